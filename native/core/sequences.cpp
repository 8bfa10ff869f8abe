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

void windows_slots(const EpisodeIndex& index, const uint64_t* starts, uint64_t n, const SequenceSpec& spec, uint64_t* slots,
                   uint8_t* mask, uint64_t* burn_slots, uint8_t* burn_mask, StepHook hook) {
  const uint64_t L = spec.length;
  const bool cross = spec.cross_episodes;
  for (uint64_t i = 0; i < n; ++i) {
    slots[i * L] = starts[i];
    mask[i * L] = 1;
    hook(starts[i]);
    const uint64_t after = index.raw_next(starts[i]);
    if (after != kNoSlot) index.prefetch(after);
  }
  // Step j of every window: its slot (the last real one's successor, or a repeat), while the
  // record of the following step is fetched.
  for (uint64_t j = 1; j < L; ++j) {
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t cur = slots[i * L + j - 1];
      uint64_t next = kNoSlot;
      if (mask[i * L + j - 1]) next = forward(index, cur, cross);
      if (next == kNoSlot) {
        slots[i * L + j] = cur;
        mask[i * L + j] = 0;
      } else {
        slots[i * L + j] = next;
        mask[i * L + j] = 1;
        hook(next);
        const uint64_t after = index.raw_next(next);
        if (after != kNoSlot) index.prefetch(after);
      }
    }
  }
  burn_in_slots(index, starts, n, spec, burn_slots, burn_mask, hook);
}

void burn_in_slots(const EpisodeIndex& index, const uint64_t* starts, uint64_t n, const SequenceSpec& spec, uint64_t* burn_slots,
                   uint8_t* burn_mask, StepHook hook) {
  const uint64_t B = spec.burn_in;
  const bool cross = spec.cross_episodes;
  if (B == 0) return;
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t before = index.raw_prev(starts[i]);
    if (before != kNoSlot) index.prefetch(before);
  }
  // Burn-in, from the step before the start backwards (j = B - 1 down to 0).
  for (uint64_t j = B; j-- > 0;) {
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t cur = j + 1 < B ? burn_slots[i * B + j + 1] : starts[i];
      const bool real = j + 1 < B ? burn_mask[i * B + j + 1] != 0 : true;
      uint64_t prev = real ? backward(index, cur, cross) : kNoSlot;
      if (prev == kNoSlot) {
        burn_slots[i * B + j] = cur;
        burn_mask[i * B + j] = 0;
      } else {
        burn_slots[i * B + j] = prev;
        burn_mask[i * B + j] = 1;
        hook(prev);
        const uint64_t earlier = index.raw_prev(prev);
        if (earlier != kNoSlot) index.prefetch(earlier);
      }
    }
  }
}

}  // namespace replaykit
