// replaykit core: n-step returns kept at write time.
//
// What a sampled item at step t of its episode becomes (option nStep { n, gamma }): reward =
// sum over k < m of gamma^k r(t+k), summed in that order in double; nextObs, terminated and
// truncated those of item t+m-1; discount = 0 if that item terminated, else gamma^m. The chain
// t .. t+m-1 stops after an item that ends its episode, at the newest stored item of the
// episode, or at a gap (an item overwritten since: episodes.h), so m <= n.
//
// Why at write time: computed at sample time, an n-step item reads n index records and n
// rewards, each a cache miss at a random place (the bench's 4-7x plain sample(256)). Here each
// item keeps its chain's state in one 32-byte record: its reward sum, its last slot, m and the
// last item's end flags. A sample reads one record and the last item's nextObs: about what a
// plain item costs. Keeping the records costs O(n) a row, on the newest rows of the row's own
// episode (in cache): a new row extends the chains of the up to n - 1 items before it, and a
// row that overwrites an item still linked from earlier ones (lowest-priority eviction takes
// items from the middle of episodes) first cuts their chains back to end before it (the
// sums recomputed from the kept rewards, in the same order, so bit for bit what a walk gives:
// O(n^2) for such a row, as a walk-free Horner form would round differently from a load's
// rebuild, and an archive must resume exactly).
// cpprb's Nstep keeps the same sums at write time, in a staging buffer before the rows enter
// its buffer; here they are kept per stored item, so they stay correct across wrap-around,
// eviction, clear and archives.
//
// Not thread-safe by itself: the buffer changes and reads it under its lock, with the index.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "episodes.h"
#include "memory.h"

namespace replaykit {

class NStepReturns {
 public:
  NStepReturns(uint64_t capacity, NStep options);

  // Around the index's on_write of a row (buffer.cpp index_rows): before_row while the slot
  // still holds its old item (kNoSlot: nothing), after_row once the index holds the new one,
  // with the row's reward.
  void before_row(const EpisodeIndex& index, uint64_t slot);
  void after_row(const EpisodeIndex& index, uint64_t slot, double reward);
  // Every slot's record again from the index and the stored rewards (rewards[slot] for slots
  // [0, length)): after an archive restored the index.
  void rebuild(const EpisodeIndex& index, uint64_t length, const double* rewards);

  // A stored item's n-step state. Read under the buffer's lock, with the index.
  struct Item {
    double sum = 0;       // sum over k < m of gamma^k r(t+k)
    double reward = 0;    // the item's own reward (kept to recompute sums cut by a gap)
    uint64_t last = 0;    // the slot of item t+m-1
    uint32_t m = 1;       // 1 <= m <= n
    uint8_t last_flags = 0;  // the last item's end flags (EpisodeIndex::flags)
  };
  const Item& item(uint64_t slot) const { return items_[slot]; }
  void prefetch(uint64_t slot) const { __builtin_prefetch(&items_[slot]); }
  // gamma^k for k in [0, n], as a product of k gammas (the discount of an m-step item is power(m)).
  double power(uint32_t k) const { return power_[k]; }
  // A sample's output for m-step items: the discount (0 after termination).
  float discount(const Item& it) const {
    return it.last_flags & EpisodeIndex::kTerminated ? 0.0f : static_cast<float>(power_[it.m]);
  }
  uint32_t n() const { return n_; }
  size_t bytes() const { return items_.size() * sizeof(Item); }  // of RAM held

 private:
  static_assert(sizeof(Item) == 32, "an n-step record is 32 bytes: two a cache line");
  uint32_t n_;
  std::vector<double> power_;
  BlockArray<Item> items_;
  std::vector<uint64_t> back_;  // scratch: the items before a slot, nearest first
};

}  // namespace replaykit
