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

void PrioritizedSampler::sample(uint64_t length, uint64_t n, const uint32_t* words, uint64_t* slots,
                                float* weights, double beta) const {
  (void)length;  // empty slots have zero mass and are never drawn
  const double total = sum_.total();
  const double segment = total / static_cast<double>(n);
  const double below_total = std::nextafter(total, 0.0);
  for (uint64_t i = 0; i < n; ++i) {
    double mass = (static_cast<double>(i) + uniform01(words + 2 * i)) * segment;
    if (mass >= total) mass = below_total;
    slots[i] = sum_.find(mass);
  }
  if (weights) {
    const double min_mass = det_pow(min_.min(), alpha_);
    for (uint64_t i = 0; i < n; ++i) {
      const double w = det_pow(min_mass / sum_.get(slots[i]), beta);
      weights[i] = static_cast<float>(std::min(w, 1.0));
    }
  }
}

void PrioritizedSampler::clear() {
  sum_.clear();
  min_.clear();
  max_priority_ = 1.0;
}

}  // namespace replaykit
