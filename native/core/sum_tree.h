// replaykit core: the segment trees behind proportional prioritized replay
// (Schaul et al. 2016, "Prioritized Experience Replay", appendix B.2.1).
//
// Sums are float64 and every parent is recomputed from its children on update
// (never patched with a delta), so no rounding error accumulates however many
// updates are made.
#pragma once
#include <cstdint>
#include <vector>

namespace replaykit {

// A binary sum-tree over `capacity` non-negative leaves.
class SumTree {
 public:
  explicit SumTree(uint64_t capacity);
  void set(uint64_t i, double value);
  double get(uint64_t i) const { return nodes_[leaves_ + i]; }
  double total() const { return nodes_[1]; }
  // The leaf where the running sum first exceeds `mass`, for 0 <= mass < total().
  // Never returns a leaf of value 0 while total() > 0: a descent steers away from a
  // subtree whose sum is 0, so rounding cannot land a draw on an empty or zero item.
  uint64_t find(double mass) const;
  void clear();
  uint64_t capacity() const { return capacity_; }

 private:
  uint64_t capacity_;
  uint64_t leaves_;  // a power of two >= capacity
  std::vector<double> nodes_;  // 1-based heap layout; leaves at [leaves_, 2 * leaves_)
};

// A binary min-tree; empty leaves hold +infinity.
class MinTree {
 public:
  explicit MinTree(uint64_t capacity);
  void set(uint64_t i, double value);
  void reset(uint64_t i);  // back to +infinity
  double get(uint64_t i) const { return nodes_[leaves_ + i]; }
  double min() const { return nodes_[1]; }
  // The leftmost leaf holding min(); precondition: some leaf is finite.
  uint64_t argmin() const;
  void clear();

 private:
  uint64_t capacity_;
  uint64_t leaves_;
  std::vector<double> nodes_;
};

}  // namespace replaykit
