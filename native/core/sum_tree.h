// replaykit core: the segment trees behind proportional prioritized replay
// (Schaul et al. 2016, "Prioritized Experience Replay", appendix B.2.1).
//
// Sums are float64 and every parent is recomputed from its children on update
// (never patched with a delta), so no rounding error accumulates however many
// updates are made: the tree is always a pure function of its leaves.
//
// Layout: a cache-line tree. Each node has 8 children, stored side by side in one
// 64-byte-aligned cache line, level by level from the leaves up; a level has
// ceil(size below / 8) nodes, padded to a whole line with the identity (0 for sums,
// +infinity for minima). At capacity 2^20 a descent touches 7 lines instead of the
// 20 nodes of a binary heap, and the tree is about half the binary heap's size.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "memory.h"

namespace replaykit {

namespace detail {

// The shape shared by both trees: where each level starts. Level 0 holds the leaves;
// the last level holds the root alone.
struct LineTreeShape {
  explicit LineTreeShape(uint64_t capacity);
  uint64_t capacity;
  std::vector<uint64_t> offset;  // offset[L]: index of level L's first node; offset.back(): the root
  uint64_t size;                 // doubles in all
  int top() const { return static_cast<int>(offset.size()) - 1; }
};

// For tests: one step of a descent (the child of 8 that `mass` falls in; mass reduced),
// by the vector code (SSE2, where built) or the portable one, which must agree bit for bit.
unsigned choose_child_for_test(const double* children, double* mass, bool vector);

}  // namespace detail

namespace detail {

// What the two trees share: the levels, the nodes, and setting leaves with their parents
// recomputed from their children (Combine: the sum or the minimum of a line).
class LineTree {
 public:
  double get(uint64_t i) const { return nodes_.data()[i]; }
  uint64_t capacity() const { return shape_.capacity; }
  void clear();  // every leaf back to the identity

 protected:
  LineTree(uint64_t capacity, double identity);
  double root() const { return nodes_.data()[shape_.offset.back()]; }
  template <double (*Combine)(const double*)>
  void set_leaf(uint64_t i, double value);
  template <double (*Combine)(const double*)>
  void set_leaves(const uint64_t* i, const double* values, uint64_t n);

  LineTreeShape shape_;
  BlockArray<double> nodes_;  // huge pages from 2 MiB up, as every per-slot table
  double identity_;
  std::vector<uint64_t> scratch_;
};

}  // namespace detail

// A sum-tree over `capacity` non-negative leaves.
class SumTree : public detail::LineTree {
 public:
  explicit SumTree(uint64_t capacity);
  void set(uint64_t i, double value);
  // Sets leaves[i[k]] = values[k] for k in order (a later repeat wins), then recomputes
  // each affected parent once; the tree equals the one a loop of set() would leave.
  void set_many(const uint64_t* i, const double* values, uint64_t n);
  double total() const { return root(); }
  // The leaf where the running sum first exceeds `mass`, for 0 <= mass < total().
  // Never returns a leaf of value 0 while total() > 0: a descent steers away from a
  // subtree whose sum is 0 (a mass at or past the total, by rounding, goes to the last
  // child of positive sum), so rounding cannot land a draw on an empty or zero item.
  uint64_t find(double mass) const;
  // out[k] = find(masses[k]) for k < n, with the descents interleaved and prefetched.
  void find_many(const double* masses, uint64_t n, uint64_t* out) const;
};

// A min-tree; empty leaves hold +infinity.
class MinTree : public detail::LineTree {
 public:
  explicit MinTree(uint64_t capacity);
  void set(uint64_t i, double value);
  // As SumTree::set_many.
  void set_many(const uint64_t* i, const double* values, uint64_t n);
  void reset(uint64_t i);  // back to +infinity
  double min() const { return root(); }
  // The leftmost leaf holding min(); precondition: some leaf is finite.
  uint64_t argmin() const;
  // A hint: starts loading the lines that set(i, ...) will touch first. No effect on values.
  void prefetch(uint64_t i) const;
};

}  // namespace replaykit
