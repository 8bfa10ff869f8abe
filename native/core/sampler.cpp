#include "sampler.h"

#include <algorithm>
#include <cmath>

#include "detmath.h"
#include "random.h"

namespace replaykit {

void UniformSampler::sample(uint64_t length, uint64_t n, const uint32_t* words, uint64_t* slots) const {
  for (uint64_t i = 0; i < n; ++i) slots[i] = uniform_below(words + 2 * i, length);
}

PrioritizedSampler::PrioritizedSampler(uint64_t capacity, double alpha)
    : alpha_(alpha), sum_(capacity), min_(capacity) {}

void PrioritizedSampler::set_priority(uint64_t slot, double p) {
  sum_.set(slot, det_pow(p, alpha_));
  min_.set(slot, p);
  if (p > max_priority_) max_priority_ = p;
}

void PrioritizedSampler::masses(const double* p, uint64_t n, double* out) const {
  det_pow_many(p, alpha_, out, n);
}

void PrioritizedSampler::set_priorities(const uint64_t* slots, const double* p, uint64_t n) {
  masses_.resize(n);
  masses(p, n, masses_.data());
  set_priorities(slots, p, masses_.data(), n);
}

void PrioritizedSampler::set_priorities(const uint64_t* slots, const double* p, const double* masses, uint64_t n) {
  double top = max_priority_;
  for (uint64_t k = 0; k < n; ++k)
    if (p[k] > top) top = p[k];
  sum_.set_many(slots, masses, n);
  min_.set_many(slots, p, n);
  max_priority_ = top;
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
    for (uint64_t i = 0; i < n; ++i) weights[i] = static_cast<float>(std::min(masses_[i], 1.0));
  }
}

void PrioritizedSampler::clear() {
  sum_.clear();
  min_.clear();
  max_priority_ = 1.0;
}

}  // namespace replaykit
