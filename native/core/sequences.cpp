#include "sequences.h"

namespace replaykit {

namespace {

uint64_t forward(const EpisodeIndex& index, uint64_t slot, bool cross) {
  return cross ? index.stream_next(slot) : index.next(slot);
}

uint64_t backward(const EpisodeIndex& index, uint64_t slot, bool cross) {
  return cross ? index.stream_prev(slot) : index.prev(slot);
}

// One step of a walk (forward for windows, backward for burn-ins) from `cur`, a real step or
// not: the linked slot, real (hooked, and the record after it fetched for the next step), or
// a repeat of cur marked as padding.
template <bool Forward>
void walk_step(const EpisodeIndex& index, uint64_t cur, bool real, bool cross, StepHook hook, uint64_t& slot, uint8_t& mask) {
  const uint64_t to = !real ? kNoSlot : Forward ? forward(index, cur, cross) : backward(index, cur, cross);
  if (to == kNoSlot) {
    slot = cur;
    mask = 0;
    return;
  }
  slot = to;
  mask = 1;
  hook(to);
  const uint64_t following = Forward ? index.raw_next(to) : index.raw_prev(to);
  if (following != kNoSlot) index.prefetch(following);
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
    for (uint64_t i = 0; i < n; ++i)
      walk_step<true>(index, slots[i * L + j - 1], mask[i * L + j - 1] != 0, cross, hook, slots[i * L + j], mask[i * L + j]);
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
      walk_step<false>(index, cur, real, cross, hook, burn_slots[i * B + j], burn_mask[i * B + j]);
    }
  }
}

}  // namespace replaykit
