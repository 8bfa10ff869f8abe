#include "sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "detmath.h"
#include "error.h"
#include "random.h"

namespace replaykit {

namespace {
constexpr uint64_t kMaxFrames = uint64_t(1) << 53;  // a count a double holds exactly
}  // namespace

void UniformSampler::sample(uint64_t length, uint64_t n, const uint32_t* words, uint64_t* slots) const {
  for (uint64_t i = 0; i < n; ++i) slots[i] = uniform_below(words + 2 * i, length);
}

PrioritizedSampler::PrioritizedSampler(uint64_t capacity, double alpha, double epsilon, BetaSchedule beta)
    : alpha_(alpha), epsilon_(epsilon), beta_(beta), sum_(capacity), min_(capacity) {
  if (!(std::isfinite(alpha) && alpha >= 0)) fail(ErrorKind::Range, "alpha must be a finite number >= 0, got " + num(alpha));
  if (!(std::isfinite(epsilon) && epsilon > 0))
    fail(ErrorKind::Range, "epsilon must be a finite number > 0, got " + num(epsilon));
  if (!(std::isfinite(beta.start) && beta.start >= 0 && std::isfinite(beta.end) && beta.end >= 0))
    fail(ErrorKind::Range, "the beta schedule's start and end must be finite numbers >= 0");
  if (beta.frames < 1 || beta.frames > kMaxFrames)
    fail(ErrorKind::Range, "the beta schedule's frames must be an integer in [1, 2^53], got " + std::to_string(beta.frames));
}

double PrioritizedSampler::beta() const {
  // Exactly the facade's former expression, so that the same draws give the same bits.
  const double progress = std::min(1.0, static_cast<double>(draws_) / static_cast<double>(beta_.frames));
  return beta_.start + (beta_.end - beta_.start) * progress;
}

void PrioritizedSampler::set_priority(uint64_t slot, double p) {
  sum_.set(slot, det_pow(p, alpha_));
  min_.set(slot, p);
  if (p > max_priority_) max_priority_ = p;
}

void PrioritizedSampler::put_back(uint64_t slot, double p, double mass) {
  sum_.set(slot, mass);
  min_.set(slot, p);
}

void PrioritizedSampler::masses(const double* p, uint64_t n, double* out) const {
  det_pow_many(p, alpha_, out, n);
}

void PrioritizedSampler::set_priorities(const uint64_t* slots, const double* p, uint64_t n) {
  masses_.resize(n);
  masses(p, n, masses_.data());
  set_priorities(slots, p, masses_.data(), n);
}

bool PrioritizedSampler::set_priorities(const uint64_t* slots, const double* p, const double* masses, uint64_t n) {
  double top = max_priority_;
  for (uint64_t k = 0; k < n; ++k)
    if (p[k] > top) top = p[k];
  // The total can only overflow if the new masses alone come near the largest double:
  // otherwise skip the undo record (the usual case costs nothing more).
  double added = 0;
  for (uint64_t k = 0; k < n; ++k) added += masses[k];
  const bool risky = !(added + sum_.total() < std::numeric_limits<double>::max() / 4);
  if (risky) {
    undo_p_.resize(n);
    undo_mass_.resize(n);
    for (uint64_t k = 0; k < n; ++k) {
      undo_p_[k] = min_.get(slots[k]);
      undo_mass_[k] = sum_.get(slots[k]);
    }
  }
  sum_.set_many(slots, masses, n);
  min_.set_many(slots, p, n);
  if (risky && !std::isfinite(sum_.total())) {
    // Every repeat of a slot recorded the same original values, so this restores the leaves,
    // and with them every parent, exactly.
    sum_.set_many(slots, undo_mass_.data(), n);
    min_.set_many(slots, undo_p_.data(), n);
    return false;
  }
  max_priority_ = top;
  return true;
}

void PrioritizedSampler::sample(uint64_t length, uint64_t n, const uint32_t* words, uint64_t* slots,
                                float* weights, double beta) const {
  (void)length;  // empty slots have zero mass and are never drawn
  const double total = sum_.total();
  const double segment = total / static_cast<double>(n);
  const double below_total = std::nextafter(total, 0.0);
  masses_.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    double mass = (static_cast<double>(i) + uniform01(words + 2 * i)) * segment;
    if (mass >= total) mass = below_total;
    masses_[i] = mass;
  }
  sum_.find_many(masses_.data(), n, slots);
  // The usual next step updates these slots' priorities: start loading their min-tree lines.
  for (uint64_t i = 0; i < n; ++i) min_.prefetch(slots[i]);
  if (weights) {
    const double min_mass = det_pow(min_.min(), alpha_);
    for (uint64_t i = 0; i < n; ++i) masses_[i] = min_mass / sum_.get(slots[i]);
    det_pow_many(masses_.data(), beta, masses_.data(), n);
    // A weight is in (0, 1]: one too small for a float32 becomes the smallest positive one,
    // not 0, which would silently drop its item from the loss.
    constexpr float kSmallest = std::numeric_limits<float>::denorm_min();
    for (uint64_t i = 0; i < n; ++i) {
      const float w = static_cast<float>(std::min(masses_[i], 1.0));
      weights[i] = w > 0 ? w : kSmallest;
    }
  }
}

void PrioritizedSampler::clear() {
  sum_.clear();
  min_.clear();
  max_priority_ = 1.0;
}

}  // namespace replaykit
