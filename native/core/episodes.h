// replaykit core: the episode index, and n-step returns computed from it at sample time.
//
// For every stored slot the index keeps its environment stream, its episode, its step within
// the episode, whether it ends the episode (terminated / truncated), and the slots of the
// previous and the next item of the same episode. It is kept as rows are published, O(1) a
// row, so that what sampling costs follows the batch, never the buffer (TorchRL issue 2669:
// a slice sampler that rebuilds its index per call costs 1.65 s at 346M items).
//
// Streams. Vectorised environments interleave their episodes: each row names its
// environment stream (0 by default), and an episode never mixes two streams. A stream's
// episode stays open until a row that terminates or truncates it; the next row of that stream
// starts a new episode. clear() forgets the stored items, not the streams (the environments
// go on).
//
// Links are checked, never trusted: the item after slot s is the item at next(s) only if that
// slot still holds the same episode at the next step. Episode ids are never reused, so an item
// overwritten since (FIFO cutting the oldest episode's head, lowest-priority eviction taking
// an item from the middle of one) breaks the chain exactly there: n-step sums and sequences
// stop at such a gap as they stop at the newest stored item.
#pragma once
#include <cstdint>
#include <vector>

namespace replaykit {

constexpr uint64_t kNoSlot = ~uint64_t(0);
// Env ids are below this: a bound on the per-stream table (the binding exports it).
constexpr uint32_t kMaxEnvStreams = 1u << 20;

class EpisodeIndex {
 public:
  explicit EpisodeIndex(uint64_t capacity);

  // A row published for `env`, in publication order: at `slot`, or kNoSlot for a row that a
  // later row of the same push overwrites at once (it still counts in its episode).
  void on_write(uint64_t slot, uint32_t env, bool terminated, bool truncated);
  // Every stored item is forgotten; the streams' open episodes stay open.
  void clear();

  // The slot of the next / previous item of slot's episode, if stored; kNoSlot otherwise.
  uint64_t next(uint64_t slot) const { return linked(slot, next_[slot], 1); }
  uint64_t prev(uint64_t slot) const { return linked(slot, prev_[slot], -1); }
  uint64_t episode(uint64_t slot) const { return episode_[slot]; }
  uint64_t step(uint64_t slot) const { return step_[slot]; }
  uint32_t env(uint64_t slot) const { return env_[slot]; }
  bool terminated(uint64_t slot) const { return flags_[slot] & kTerminated; }
  bool truncated(uint64_t slot) const { return flags_[slot] & kTruncated; }
  bool ends(uint64_t slot) const { return flags_[slot] != 0; }
  uint64_t capacity() const { return episode_.size(); }

  // A stream as it stands: its current (or last) episode, the step its next row gets, its newest
  // row's slot (kNoSlot: none, or overwritten at once), and whether that episode is still open.
  struct StreamView {
    uint64_t episode = 0, next_step = 0, last_slot = kNoSlot;
    bool open = false;
  };
  uint32_t streams() const { return static_cast<uint32_t>(streams_.size()); }  // env ids seen: 0 .. streams() - 1
  StreamView stream(uint32_t env) const {
    if (env >= streams_.size()) return {};
    const Stream& s = streams_[env];
    return {s.episode, s.next_step, s.last_slot, s.open};
  }

 private:
  static constexpr uint8_t kTerminated = 1, kTruncated = 2;
  struct Stream {
    uint64_t episode = 0, next_step = 0, last_slot = kNoSlot;
    bool open = false;
  };
  uint64_t linked(uint64_t slot, uint64_t other, int direction) const {
    if (other == kNoSlot || episode_[other] != episode_[slot] || step_[other] != step_[slot] + direction) return kNoSlot;
    return other;
  }

  std::vector<uint64_t> episode_, step_, next_, prev_;
  std::vector<uint32_t> env_;
  std::vector<uint8_t> flags_;
  std::vector<Stream> streams_;  // by env id (grown on demand)
  uint64_t next_episode_ = 1;    // 0: no episode (an empty slot)
};

// n-step returns (option nStep): what a sampled item at step t of its episode becomes.
struct NStep {
  uint32_t n = 1;
  double gamma = 0.99;
};

// The chain of an n-step item: the m <= n slots from `slot` on, stopping after an item that
// ends its episode, at the newest stored item of the episode, or at a gap. Writes them to
// out[0 .. m) and returns m (>= 1).
uint32_t nstep_chain(const EpisodeIndex& index, uint64_t slot, uint32_t n, uint64_t* out);

}  // namespace replaykit
