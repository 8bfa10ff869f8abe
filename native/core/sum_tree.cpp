#include "sum_tree.h"

#include <algorithm>
#include <limits>

namespace replaykit {

namespace {
uint64_t pow2_at_least(uint64_t n) {
  uint64_t p = 1;
  while (p < n) p <<= 1;
  return p;
}
constexpr double kInf = std::numeric_limits<double>::infinity();
}  // namespace

SumTree::SumTree(uint64_t capacity)
    : capacity_(capacity), leaves_(pow2_at_least(capacity)), nodes_(2 * leaves_, 0.0) {}

void SumTree::set(uint64_t i, double value) {
  uint64_t n = leaves_ + i;
  nodes_[n] = value;
  for (n >>= 1; n >= 1; n >>= 1) nodes_[n] = nodes_[2 * n] + nodes_[2 * n + 1];
}

uint64_t SumTree::find(double mass) const {
  uint64_t n = 1;
  while (n < leaves_) {
    const uint64_t left = 2 * n;
    const double l = nodes_[left];
    if (mass < l || !(nodes_[left + 1] > 0.0)) {
      n = left;
    } else {
      mass -= l;
      n = left + 1;
    }
  }
  return n - leaves_;
}

void SumTree::clear() { std::fill(nodes_.begin(), nodes_.end(), 0.0); }

MinTree::MinTree(uint64_t capacity)
    : capacity_(capacity), leaves_(pow2_at_least(capacity)), nodes_(2 * leaves_, kInf) {}

void MinTree::set(uint64_t i, double value) {
  uint64_t n = leaves_ + i;
  nodes_[n] = value;
  for (n >>= 1; n >= 1; n >>= 1) nodes_[n] = std::min(nodes_[2 * n], nodes_[2 * n + 1]);
}

void MinTree::reset(uint64_t i) { set(i, kInf); }

uint64_t MinTree::argmin() const {
  uint64_t n = 1;
  while (n < leaves_) n = nodes_[2 * n] <= nodes_[2 * n + 1] ? 2 * n : 2 * n + 1;
  return n - leaves_;
}

void MinTree::clear() { std::fill(nodes_.begin(), nodes_.end(), kInf); }

}  // namespace replaykit
