#include "writer.h"

namespace replaykit {

uint64_t Writer::advance(uint64_t n) {
  const uint64_t first = cursor_;
  // Each slot is written floor or ceil of n / capacity times.
  const uint64_t laps = n / capacity_, rest = n % capacity_;
  if (laps)
    for (uint64_t s = 0; s < capacity_; ++s) writes_[s] += laps;
  for (uint64_t r = 0; r < rest; ++r) ++writes_[(cursor_ + r) % capacity_];
  cursor_ = (cursor_ + rest) % capacity_;
  length_ = (n >= capacity_ - length_) ? capacity_ : length_ + n;
  return first;
}

void Writer::record(uint64_t slot) {
  ++writes_[slot];
  if (slot == length_ && length_ < capacity_) {
    ++length_;
    cursor_ = length_ % capacity_;
  }
}

KeyState Writer::resolve(uint64_t key, uint64_t* slot) const {
  const uint64_t s = key % capacity_, generation = key / capacity_;
  *slot = s;
  if (generation >= writes_[s]) return KeyState::Unknown;
  if (generation + 1 == writes_[s] && s < length_) return KeyState::Live;
  return KeyState::Stale;
}

}  // namespace replaykit
