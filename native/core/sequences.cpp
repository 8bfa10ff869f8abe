#include "sequences.h"

namespace replaykit {

namespace {

uint64_t forward(const EpisodeIndex& index, uint64_t slot, bool cross) {
  return cross ? index.stream_next(slot) : index.next(slot);
}

uint64_t backward(const EpisodeIndex& index, uint64_t slot, bool cross) {
  return cross ? index.stream_prev(slot) : index.prev(slot);
}

}  // namespace

bool start_fits(const EpisodeIndex& index, uint64_t start, const SequenceSpec& spec) {
  if (index.step(start) % spec.stride != 0) return false;
  if (spec.pad) return true;
  uint64_t cur = start;
  for (uint64_t k = 1; k < spec.length; ++k) {
    cur = forward(index, cur, spec.cross_episodes);
    if (cur == kNoSlot) return false;
  }
  return true;
}

void window_slots(const EpisodeIndex& index, uint64_t start, const SequenceSpec& spec, uint64_t* slots, uint8_t* mask,
                  uint64_t* burn_slots, uint8_t* burn_mask) {
  uint64_t cur = start;
  bool real = true;
  for (uint64_t j = 0; j < spec.length; ++j) {
    if (j > 0 && real) {
      const uint64_t next = forward(index, cur, spec.cross_episodes);
      if (next == kNoSlot) real = false;
      else cur = next;
    }
    slots[j] = cur;
    mask[j] = real;
  }
  // Burn-in, newest first from the start backwards, then the padding in front.
  cur = start;
  real = true;
  for (uint64_t j = spec.burn_in; j-- > 0;) {
    if (real) {
      const uint64_t prev = backward(index, cur, spec.cross_episodes);
      if (prev == kNoSlot) real = false;
      else cur = prev;
    }
    burn_slots[j] = cur;  // a padded step repeats the oldest real slot (or the start)
    burn_mask[j] = real;
  }
}

}  // namespace replaykit
