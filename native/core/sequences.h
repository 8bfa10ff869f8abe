// replaykit core: sequence windows (TorchRL's SliceSampler and PrioritizedSliceSampler,
// Reverb's trajectories, R2D2's burn-in), read by following the episode index from drawn
// start items, so a batch costs its own rows, never a scan of the buffer (TorchRL's slice
// sampler rebuilds its trajectory index per call: 1.65 s a sample at 346M items, pytorch/rl
// issue 2669).
//
// A window of `length` steps from a start item s: s, then the next item of its episode, and so
// on. Where the episode ends first (its terminated or truncated item, the newest stored item
// of its stream, an item overwritten or evicted since), the rest of the window is padding:
// zero in every field, 0 in the mask. With cross_episodes the window goes on past an
// episode's end into the next episode of the same env stream (the `terminated` / `truncated`
// fields say where; the mask stays 1), and stops only where the stream's stored items do.
// The burn-in: the `burn_in` steps before s, oldest first, by the same links backwards, padded
// at the front where the episode (or, with cross_episodes, the stream) has no earlier item.
//
// Starts are drawn by the buffer's sampler (uniform over stored items, or by priority), which
// this module does not repeat. What a start must satisfy to be kept (else it is drawn again):
// its step within its episode is a multiple of `stride`, and, without padding (pad false),
// its whole window is real.
#pragma once
#include <cstdint>

#include "episodes.h"

namespace replaykit {

struct SequenceSpec {
  uint64_t length = 1;    // steps a sequence, >= 1
  uint64_t stride = 1;    // starts at steps (within their episode) that are multiples of it, >= 1
  uint64_t burn_in = 0;   // steps before each sequence, returned apart
  bool cross_episodes = false;
  bool pad = true;        // false: only starts whose whole window is real
};

// The limits a spec is checked against (the binding exports none: the facade's messages name
// the options).
constexpr uint64_t kMaxSequenceSteps = uint64_t(1) << 20;

// Whether a drawn start is kept: its step is a multiple of the stride and, without padding,
// its whole window is real, which the window's mask as windows_slots() wrote it says
// (window_mask: its `length` entries; read only when spec.pad is false).
inline bool start_fits(const EpisodeIndex& index, uint64_t start, const uint8_t* window_mask, const SequenceSpec& spec) {
  return index.step(start) % spec.stride == 0 && (spec.pad || window_mask[spec.length - 1] != 0);
}

// What a walk does besides following links: called with each step's slot as the walk finds
// it (a real step, not padding), to start fetching that step's storage row while the walk
// goes on, so that the gather after the walk reads from the cache.
struct StepHook {
  void (*fn)(const void* context, uint64_t slot) = nullptr;
  const void* context = nullptr;
  void operator()(uint64_t slot) const {
    if (fn) fn(context, slot);
  }
};

// The windows from starts[0 .. n): window i's slots at slots[i * length ..] and its mask at
// mask[i * length ..] (1: a real step; a padded step repeats the last real slot, whose row the
// reader then zeroes), and its burn-in at burn_slots[i * burn_in ..] / burn_mask (padded at
// the front, repeating the oldest real slot; burn_in_slots() alone). Walked a step of every
// window at a time with the next records prefetched, so that the cache misses of the n walks
// overlap instead of following one another.
void windows_slots(const EpisodeIndex& index, const uint64_t* starts, uint64_t n, const SequenceSpec& spec, uint64_t* slots,
                   uint8_t* mask, uint64_t* burn_slots, uint8_t* burn_mask, StepHook hook = {});
// The burn-ins only (what windows_slots() writes to burn_slots / burn_mask), for starts whose
// windows are already walked.
void burn_in_slots(const EpisodeIndex& index, const uint64_t* starts, uint64_t n, const SequenceSpec& spec, uint64_t* burn_slots,
                   uint8_t* burn_mask, StepHook hook = {});

}  // namespace replaykit
