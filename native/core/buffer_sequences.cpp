// replaykit core: ReplayBuffer::sample_sequences, the sampling operation for sequence windows
// (sequences.h says what a window is). Its own file beside buffer.cpp's sample: the same
// threads design (buffer.h, "Threads"), with windows in place of n-step chains.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "buffer.h"
#include "error.h"
#include "random.h"

namespace replaykit {

void ReplayBuffer::sample_sequences(uint64_t n, const SequenceSpec& spec, const uint32_t* words, void* const* outs,
                                    uint8_t* mask, void* const* burn_outs, uint8_t* burn_mask, uint64_t* keys,
                                    float* weights, std::optional<double> beta) {
  if (n == 0) fail(ErrorKind::Range, "batch size must be at least 1");
  if (spec.length == 0 || spec.length > kMaxSequenceSteps)
    fail(ErrorKind::Range, "a sequence's length must be in [1, 2^20], got " + std::to_string(spec.length));
  if (spec.burn_in > kMaxSequenceSteps) fail(ErrorKind::Range, "burn-in must be at most 2^20 steps");
  if (spec.stride == 0 || spec.stride > kMaxSequenceSteps) fail(ErrorKind::Range, "stride must be in [1, 2^20]");
  if (weights && beta && !(std::isfinite(*beta) && *beta >= 0)) fail(ErrorKind::Range, "beta must be a finite number >= 0");
  const uint64_t L = spec.length, B = spec.burn_in;
  thread_local std::vector<uint64_t> start_scratch, window_scratch;
  thread_local std::vector<uint8_t> burn_mask_scratch;
  start_scratch.resize(n);
  window_scratch.resize(n * (L + B));
  if (!burn_mask) {  // the burn-in's slots are still computed (and waited for): a mask to write
    burn_mask_scratch.resize(n * B);
    burn_mask = burn_mask_scratch.data();
  }
  uint64_t* const starts = start_scratch.data();
  uint64_t* const windows = window_scratch.data();  // n * L window slots, then n * B burn-in slots
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return closed_ || drain_readers_ == 0; });
  check_open();
  if (!episodes_) fail(ErrorKind::State, "sequences need an episode index (a buffer made with episodes: true or nStep)");
  const uint64_t len = length();
  if (n > len)
    fail(ErrorKind::Range, "cannot sample " + std::to_string(n) + " sequences: only " + std::to_string(len) + " items are stored");
  const double b = per_ ? (beta ? *beta : per_->beta()) : 0.0;
  auto draw = [&](uint64_t count, const uint32_t* w, uint64_t* slots, float* wts) {
    if (per_) per_->sample(len, count, w, slots, wts, b);
    else uniform_.sample(len, count, w, slots);
  };
  draw(n, words, starts, weights);
  // A start that does not fit is drawn again: each fitting start keeps its probability
  // conditioned on fitting (uniform, or proportional to its priority), as a sampler that drew
  // only among fitting starts would (TorchRL's strict slices, Reverb's MinSize-like checks).
  // The words of the redraws come from SplitMix64 (random.h) seeded by two words of the
  // generator of record, so a batch stays a function of the buffer's seed: the unfit starts,
  // in index order, take the fitting redraws in the stream's order (start i's redraws until
  // one fits, then the next unfit start's).
  // Whether a start fits needs its whole window walked (pad false): every window is walked
  // once, together (windows_slots: the misses overlap), and the walked windows are the batch's
  // (with their burn-ins walked after). Redraws are drawn and walked likewise, a batch of them
  // at a time; those past the last one needed are dropped (the stream is this call's own).
  // The rows the gather will read are fetched as the walk finds their slots (StepHook): the
  // extent of the fields read, from a row's first field, the same for every slot.
  struct RowLines {
    const Storage* storage;
    ptrdiff_t lo, hi;
  } lines{storage_.get(), PTRDIFF_MAX, PTRDIFF_MIN};
  for (size_t f = 0; f < schema_.size(); ++f) {
    if (!outs[f]) continue;
    // Offsets within a row are the same for every slot: measured at a drawn one (it holds an
    // item, so a tiered storage knows where its row is).
    const ptrdiff_t at = storage_->field_at(f, starts[0]) - storage_->field_at(0, starts[0]);
    lines.lo = std::min(lines.lo, at);
    lines.hi = std::max(lines.hi, at + ptrdiff_t(schema_[f].row_bytes));
  }
  StepHook hook;
  if (lines.lo < lines.hi && !derived_)
    hook = {[](const void* c, uint64_t slot) {
              const auto& r = *static_cast<const RowLines*>(c);
              r.storage->prefetch(slot, r.lo, r.hi);
            },
            &lines};
  SequenceSpec forward = spec;
  forward.burn_in = 0;
  uint64_t* const burn_slots = windows + n * L;
  for (uint64_t i = 0; i < n; ++i) episodes_->prefetch(starts[i]);
  if (!spec.pad) windows_slots(*episodes_, starts, n, forward, windows, mask, nullptr, nullptr, hook);
  thread_local std::vector<uint64_t> unfit;
  unfit.clear();
  for (uint64_t i = 0; i < n; ++i)
    if (!start_fits(*episodes_, starts[i], mask + i * L, spec)) unfit.push_back(i);
  if (!unfit.empty()) {
    thread_local std::vector<uint64_t> redrawn, redrawn_windows;
    thread_local std::vector<float> redrawn_weights;
    thread_local std::vector<uint8_t> redrawn_mask;
    SplitMix64 redraws{word64(words + 2 * n)};
    const uint64_t budget = 64 * n;
    uint64_t used = 0;  // redraws taken from the stream, fitting or not
    size_t filled = 0;  // unfit starts replaced
    while (filled < unfit.size()) {
      if (used == budget)
        fail(ErrorKind::Range, "no fitting start found in 64 draws a sequence (" +
                                   std::string(spec.pad ? "" : "whole windows of " + std::to_string(L) + " steps") +
                                   (spec.pad || spec.stride == 1 ? "" : ", ") +
                                   (spec.stride > 1 ? "starts at multiples of stride " + std::to_string(spec.stride) : "") +
                                   "): are the episodes that long? pad: 'zero' pads short windows");
      // Enough redraws that most unfit starts are replaced in one walk; a walk of a few more
      // windows costs little more than a walk of one (the misses overlap).
      const uint64_t k = std::min<uint64_t>(budget - used, std::max<uint64_t>(16, 4 * (unfit.size() - filled)));
      redrawn.resize(k);
      redrawn_weights.resize(k);
      for (uint64_t c = 0; c < k; ++c) {
        const uint64_t z = redraws.next();
        const uint32_t w[2] = {uint32_t(z >> 32), uint32_t(z)};
        draw(1, w, redrawn.data() + c, weights ? redrawn_weights.data() + c : nullptr);
        episodes_->prefetch(redrawn[c]);
      }
      if (!spec.pad) {
        redrawn_windows.resize(k * L);
        redrawn_mask.resize(k * L);
        windows_slots(*episodes_, redrawn.data(), k, forward, redrawn_windows.data(), redrawn_mask.data(), nullptr, nullptr, hook);
      }
      for (uint64_t c = 0; c < k && filled < unfit.size(); ++c) {
        ++used;
        if (!start_fits(*episodes_, redrawn[c], spec.pad ? nullptr : redrawn_mask.data() + c * L, spec)) continue;
        const uint64_t i = unfit[filled++];
        starts[i] = redrawn[c];
        if (weights) weights[i] = redrawn_weights[c];
        if (!spec.pad) {
          std::copy_n(redrawn_windows.data() + c * L, L, windows + i * L);
          std::copy_n(redrawn_mask.data() + c * L, L, mask + i * L);
        }
      }
    }
  }
  if (spec.pad) windows_slots(*episodes_, starts, n, spec, windows, mask, burn_slots, burn_mask, hook);
  else burn_in_slots(*episodes_, starts, n, spec, burn_slots, burn_mask, burn_outs ? hook : StepHook{});
  // The windows' slots (walked above), walked again after every wait for slots being written
  // (a link may have changed meanwhile), and after every wait the buffer checked open again
  // (as sample()). A start overwritten meanwhile is read as its new row (as sample() reads a
  // drawn slot). Observations stored once (derived.h): the frames of every step's obs and
  // nextObs are planned here, and their slots waited for and pinned too (as sample() does).
  thread_local FramePlan plan, burn_plan;
  thread_local std::vector<uint64_t> frame_slots;
  const size_t obs_f = derived_ ? derived_->options().obs : 0, next_f = derived_ ? derived_->options().next : 0;
  const bool derived_obs = derived_ && derived_->options().frames > 1 && outs[obs_f];
  const bool derived_next = derived_ && outs[next_f];
  const bool burn_read = burn_outs && B > 0;
  const bool burn_obs = burn_read && derived_ && derived_->options().frames > 1 && burn_outs[obs_f];
  const bool burn_next = burn_read && derived_ && burn_outs[next_f];
  for (bool walked = true;; walked = false) {
    if (!walked) windows_slots(*episodes_, starts, n, spec, windows, mask, burn_slots, burn_mask);
    frame_slots.clear();
    if (derived_obs || derived_next) {
      derived_->plan(derived_obs ? windows : nullptr, derived_next ? windows : nullptr, n * L, plan);
      frame_slots.insert(frame_slots.end(), plan.slots.begin(), plan.slots.end());
    }
    if (burn_obs || burn_next) {
      derived_->plan(burn_obs ? windows + n * L : nullptr, burn_next ? windows + n * L : nullptr, n * B, burn_plan);
      frame_slots.insert(frame_slots.end(), burn_plan.slots.begin(), burn_plan.slots.end());
    }
    if (in_flight_.empty() || (!in_flight(windows, n * (L + B)) && !in_flight(frame_slots.data(), frame_slots.size()))) break;
    cv_.wait(lock);
    check_open();
  }
  if (derived_obs || derived_next) derived_->settle(plan);  // side frames copied while the lock holds
  if (burn_obs || burn_next) derived_->settle(burn_plan);
  for (uint64_t i = 0; i < n; ++i) keys[i] = writer_.key(starts[i]);
  if (per_) per_->advance();
  const Pin pin{windows, n * L, windows + n * L, burn_read ? n * B : 0, frame_slots.data(), frame_slots.size()};
  pins_.push_back(&pin);
  lock.unlock();
  const Unpin unpin{this, &pin};
  auto read = [&](const uint64_t* slots, uint64_t count, void* const* dst, const uint8_t* real, const FramePlan* frames) {
    gather_stored(slots, count, dst);
    if (frames) {
      storage_->check_intact();
      derived_->fill(*frames, dst[obs_f], dst[next_f]);
      storage_->check_intact();
    }
    for (size_t f = 0; f < schema_.size(); ++f) {
      if (!dst[f]) continue;
      const size_t rb = schema_[f].row_bytes;
      auto* out = static_cast<uint8_t*>(dst[f]);
      for (uint64_t k = 0; k < count; ++k)
        if (!real[k]) std::memset(out + k * rb, 0, rb);
    }
  };
  read(windows, n * L, outs, mask, derived_obs || derived_next ? &plan : nullptr);
  if (burn_read) read(windows + n * L, n * B, burn_outs, burn_mask, burn_obs || burn_next ? &burn_plan : nullptr);
}

}  // namespace replaykit
