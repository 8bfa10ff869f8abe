// replaykit core: the episode index (n-step returns kept along it: nstep.h).
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
//
// Across episodes (sequences with crossEpisodes): the row after an episode's last one is the
// first row of its stream's next episode. Those two link each other (the last row's next, the
// first row's prev), and the pair holds only while both slots still hold those rows: a slot
// written again gets fresh links, so a stale one never points back.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "memory.h"

namespace replaykit {

constexpr uint64_t kNoSlot = ~uint64_t(0);
// Env ids are below this: a bound on the per-stream table (the binding exports it).
constexpr uint32_t kMaxEnvStreams = 1u << 20;

// The head of an Episodes section (64 bytes): the index's counts, and the buffer's episode
// options (the fields the index reads, n-step returns).
struct EpisodesRecord {
  uint64_t items;         // slots [0, items) follow: the archive's length
  uint64_t streams;       // env streams that follow (the highest env id seen + 1)
  uint64_t next_episode;  // the id the next episode gets
  uint32_t nstep_n;       // the buffer's n-step option (0: none)
  uint32_t reserved0;
  double nstep_gamma;     // 0 without n-step
  uint32_t terminated, truncated, reward, next_obs;  // field indexes (reward, next_obs: 0 without n-step)
  uint64_t reserved;
};
static_assert(sizeof(EpisodesRecord) == 64, "an episodes record is 64 bytes");

// The bytes of an Episodes section of `items` slots and `streams` streams: the record, then
// per slot episode, step, prev, next (uint64), env (uint32), flags (uint8); then per stream
// episode, next step, last slot, last row's episode, last row's step (uint64), open (uint8);
// each array padded to 8 bytes.
uint64_t episodes_section_bytes(uint64_t items, uint64_t streams);

class EpisodeIndex {
 public:
  explicit EpisodeIndex(uint64_t capacity);

  // A row published for `env`, in publication order: at `slot`, or kNoSlot for a row that a
  // later row of the same push overwrites at once (it still counts in its episode).
  void on_write(uint64_t slot, uint32_t env, bool terminated, bool truncated);
  // Every stored item is forgotten; the streams' open episodes stay open.
  void clear();

  // The slot of the next / previous item of slot's episode, if stored; kNoSlot otherwise.
  uint64_t next(uint64_t slot) const { return linked(slot, items_[slot].next, 1); }
  uint64_t prev(uint64_t slot) const { return linked(slot, items_[slot].prev, -1); }
  // The same along the env stream, across episode ends: after an episode's last item, the
  // first item of the stream's next episode; before a first item, the previous episode's last.
  uint64_t stream_next(uint64_t slot) const {
    if (!ends(slot)) return next(slot);
    const uint64_t o = items_[slot].next;
    return o != kNoSlot && items_[o].episode != 0 && items_[o].step == 0 && items_[o].env == items_[slot].env && items_[o].prev == slot ? o : kNoSlot;
  }
  uint64_t stream_prev(uint64_t slot) const {
    if (items_[slot].step != 0) return prev(slot);
    const uint64_t p = items_[slot].prev;
    return p != kNoSlot && items_[p].episode != 0 && ends(p) && items_[p].env == items_[slot].env && items_[p].next == slot ? p : kNoSlot;
  }
  // Starts fetching slot's record into the cache (a walk over many chains does the next step of
  // every chain first, then reads them: the misses overlap).
  void prefetch(uint64_t slot) const { __builtin_prefetch(&items_[slot]); }
  // The unchecked forward / backward links of a slot (what next() / stream_next() and prev()
  // check), for prefetching the record they lead to before checking it.
  uint64_t raw_next(uint64_t slot) const { return items_[slot].next; }
  uint64_t raw_prev(uint64_t slot) const { return items_[slot].prev; }
  // Whether the slot holds an item (the buffer's empty slots have none).
  bool stored(uint64_t slot) const { return items_[slot].episode != 0; }
  uint64_t episode(uint64_t slot) const { return items_[slot].episode; }
  uint64_t step(uint64_t slot) const { return items_[slot].step; }
  uint32_t env(uint64_t slot) const { return items_[slot].env; }
  // A slot's end flags: kTerminated | kTruncated bits (what n-step records keep of their last item).
  static constexpr uint8_t kTerminated = 1, kTruncated = 2;
  uint8_t flags(uint64_t slot) const { return items_[slot].flags; }
  bool terminated(uint64_t slot) const { return items_[slot].flags & kTerminated; }
  bool truncated(uint64_t slot) const { return items_[slot].flags & kTruncated; }
  bool ends(uint64_t slot) const { return items_[slot].flags != 0; }
  uint64_t capacity() const { return items_.size(); }
  size_t bytes() const { return items_.size() * sizeof(Item) + streams_.size() * sizeof(Stream); }  // of RAM held

  // Archives (the Episodes section, archive.h). The occupied slots of a buffer that is
  // archived or restored are exactly [0, length) (the writer's invariant), so the index is
  // kept for those slots, with every stream's state and the next episode id: a restored
  // index is the saved one, bit for bit, and sampling resumes exactly.
  // encode: the section's bytes: `head` (whose options the caller filled in) with the counts
  // set, then the arrays (episodes_section_bytes).
  std::vector<uint8_t> encode(uint64_t length, EpisodesRecord head) const;
  // Replaces the state from encode()'s bytes, checking everything memory safety and the
  // index's invariants need first (links inside the capacity, episode ids below the next
  // one, env ids below kMaxEnvStreams, flags that are those of the stored rows: terminated[p]
  // and truncated[p] give the stored flag of slot p). Error(Archive) saying what is wrong, the
  // index unchanged.
  void restore(const uint8_t* bytes, uint64_t size, uint64_t length, const uint8_t* terminated, const uint8_t* truncated);
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
  struct Stream {
    uint64_t episode = 0, next_step = 0, last_slot = kNoSlot;
    bool open = false;
    // The stream's last row: its episode and step (it is still at last_slot while that slot's
    // episode and step are these: episode ids are never reused).
    uint64_t last_episode = 0, last_step = 0;
  };
  uint64_t linked(uint64_t slot, uint64_t other, int direction) const {
    if (other == kNoSlot || items_[other].episode != items_[slot].episode || items_[other].step != items_[slot].step + direction) return kNoSlot;
    return other;
  }

  // One record a slot, 40 bytes: following a link costs one cache miss, not one an array
  // (sequences and n-step chains walk links for every step they read).
  struct Item {
    uint64_t episode = 0;  // 0: an empty slot
    uint64_t step = 0;
    uint64_t next = kNoSlot, prev = kNoSlot;
    uint32_t env = 0;
    uint8_t flags = 0;
  };
  BlockArray<Item> items_;  // huge pages: read at random by every walk
  std::vector<Stream> streams_;  // by env id (grown on demand)
  uint64_t next_episode_ = 1;    // 0: no episode (an empty slot)
};

// n-step returns (option nStep; nstep.h says what a sampled item becomes).
struct NStep {
  uint32_t n = 1;
  double gamma = 0.99;
};

}  // namespace replaykit
