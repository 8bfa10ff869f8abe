#include "writer.h"

#include <algorithm>
#include <numeric>

namespace replaykit {

uint64_t Writer::advance(uint64_t n) {
  const uint64_t first = cursor_;
  // Each slot is written floor or ceil of n / capacity times.
  const uint64_t laps = n / capacity_, rest = n % capacity_;
  if (laps)
    for (uint64_t s = 0; s < capacity_; ++s) writes_[s] += laps;
  for (uint64_t r = 0; r < rest; ++r) ++writes_[(cursor_ + r) % capacity_];
  if (regular_) lap_base_ += laps + (cursor_ + rest) / capacity_;
  cursor_ = (cursor_ + rest) % capacity_;
  length_ = (n >= capacity_ - length_) ? capacity_ : length_ + n;
  if (tracks_order()) {
    for (uint64_t r = n > capacity_ ? n - capacity_ : 0; r < n; ++r) inserted_[(first + r) % capacity_] = inserted_count_ + r;
    inserted_count_ += n;
    order_.clear();
  }
  return first;
}

void Writer::record(uint64_t slot) {
  regular_ = false;  // writes at chosen slots (tracking writers are never regular)
  ++writes_[slot];
  if (tracks_order()) {
    inserted_[slot] = inserted_count_++;
    order_.clear();
  }
  if (slot == length_ && length_ < capacity_) {
    ++length_;
    cursor_ = length_ % capacity_;
  }
}

KeyState Writer::resolve(uint64_t key, uint64_t* slot) const {
  const uint64_t s = key % capacity_, generation = key / capacity_;
  *slot = s;
  const uint64_t w = writes_of(s);
  if (generation >= w) return KeyState::Unknown;
  if (generation + 1 == w && s < length_) return KeyState::Live;
  return KeyState::Stale;
}

void Writer::restore(uint64_t length, uint64_t cursor, const uint64_t* writes, const uint64_t* inserted,
                     uint64_t inserted_count) {
  length_ = length;
  cursor_ = cursor;
  std::copy(writes, writes + capacity_, writes_.begin());
  if (tracks_order()) std::copy(inserted, inserted + capacity_, inserted_.begin());
  inserted_count_ = inserted_count;
  order_.clear();
  // Regular again when the table has the regular shape for this cursor.
  regular_ = !tracks_order();
  lap_base_ = writes_[capacity_ - 1];  // the last slot is never below the cursor
  for (uint64_t s = 0; regular_ && s < capacity_; ++s)
    if (writes_[s] != lap_base_ + (s < cursor_ ? 1 : 0)) regular_ = false;
}

const std::vector<uint64_t>& Writer::order() const {
  if (order_.size() != length_) {
    order_.resize(length_);
    std::iota(order_.begin(), order_.end(), uint64_t(0));
    std::sort(order_.begin(), order_.end(), [this](uint64_t a, uint64_t b) { return inserted_[a] < inserted_[b]; });
  }
  return order_;
}

uint64_t Writer::slot_at(uint64_t position) const {
  if (tracks_order()) return order()[position];
  const uint64_t oldest = full() ? cursor_ : 0;
  return (oldest + position) % capacity_;
}

void Writer::slots_in_order(uint64_t* out) const {
  if (tracks_order()) {
    const auto& o = order();
    std::copy(o.begin(), o.end(), out);
    return;
  }
  const uint64_t oldest = full() ? cursor_ : 0;
  for (uint64_t p = 0; p < length_; ++p) out[p] = (oldest + p) % capacity_;
}

}  // namespace replaykit
