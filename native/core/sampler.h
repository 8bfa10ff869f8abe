// replaykit core: samplers decide which stored slots a batch reads.
// (TorchRL's RandomSampler and PrioritizedSampler play the same part.)
#pragma once
#include <cstdint>
#include <vector>

#include "sum_tree.h"

namespace replaykit {

// Every sampler draws `n` slots among the `length` stored ones (slots 0 .. length-1
// are the occupied ones) from `2 * n` random words.
class UniformSampler {
 public:
  void sample(uint64_t length, uint64_t n, const uint32_t* words, uint64_t* slots) const;
};

// Beta anneals linearly from `start` to `end` over `frames` draws, then stays at `end`.
struct BetaSchedule {
  double start = 0.4;
  double end = 1.0;
  uint64_t frames = 100000;
};

// Proportional prioritized replay (Schaul et al. 2016): P(i) = p_i^alpha / sum_k p_k^alpha,
// drawn stratified (one draw in each of n equal segments of the total mass), with
// importance-sampling weights w_i = (N P(i))^-beta / max_j w_j, the max taken over the
// whole buffer through the min-tree; so w_i = (min_k p_k^alpha / p_i^alpha)^beta, in (0, 1]
// (a weight that underflows float32 to 0 is raised to the smallest positive float32, 2^-149).
//
// It holds the whole state of prioritized replay: alpha, epsilon, the beta schedule and how
// far it has gone (the draws so far), the running maximum priority, and the trees.
class PrioritizedSampler {
 public:
  // Throws Error(Range) for alpha < 0, epsilon <= 0, a beta < 0 (any of them not finite), or
  // beta frames outside [1, 2^53].
  PrioritizedSampler(uint64_t capacity, double alpha, double epsilon = 1e-6, BetaSchedule beta = {});
  double alpha() const { return alpha_; }
  double epsilon() const { return epsilon_; }
  const BetaSchedule& schedule() const { return beta_; }

  // The beta of the next draw: start + (end - start) * min(1, draws / frames).
  double beta() const;
  uint64_t draws() const { return draws_; }  // draws so far: the schedule's progress
  void advance() { ++draws_; }
  void set_draws(uint64_t n) { draws_ = n; }  // archives restore it

  // Sets slot's priority p (> 0, finite) and raises the running maximum.
  void set_priority(uint64_t slot, double p);
  // set_priority(slots[k], p[k]) for k in order (a later repeat of a slot wins), with each
  // tree's parents recomputed once per batch: the same trees, faster for many slots.
  void set_priorities(const uint64_t* slots, const double* p, uint64_t n);
  // The same with masses[k] = masses_of(p[k]) already computed. Returns false, having changed
  // nothing, when the total mass would overflow to infinity.
  bool set_priorities(const uint64_t* slots, const double* p, const double* masses, uint64_t n);
  // out[k] = p[k]^alpha, the mass the sum-tree holds for priority p[k] (det_pow: the same bits everywhere).
  void masses(const double* p, uint64_t n, double* out) const;
  // Draws with exponent beta (weights may be null: no weights). Does not advance the schedule.
  void sample(uint64_t length, uint64_t n, const uint32_t* words, uint64_t* slots, float* weights,
              double beta) const;
  void clear();  // empty trees, maximum priority 1; the schedule keeps its progress

  double priority(uint64_t slot) const { return min_.get(slot); }  // p, not p^alpha (+inf: empty)
  double mass(uint64_t slot) const { return sum_.get(slot); }      // p^alpha (0: empty)
  // Puts back a slot's earlier priority and mass exactly (+inf and 0 for an empty slot): how a
  // rejected change is undone.
  void put_back(uint64_t slot, double p, double mass);
  double total() const { return sum_.total(); }                      // sum of p^alpha
  double min_priority() const { return min_.min(); }                 // +inf when empty
  double max_priority() const { return max_priority_; }              // the largest p seen (1 at first)
  void set_max_priority(double p) { max_priority_ = p; }             // archives restore it
  uint64_t lowest_slot() const { return min_.argmin(); }

 private:
  double alpha_;
  double epsilon_;
  BetaSchedule beta_;
  uint64_t draws_ = 0;
  SumTree sum_;   // p^alpha
  MinTree min_;   // p
  double max_priority_ = 1.0;
  mutable std::vector<double> masses_;  // scratch: the draws of the current batch, then p^alpha
  std::vector<double> undo_p_, undo_mass_;  // scratch: what a checked update replaces
};

}  // namespace replaykit
