#include "nstep.h"

namespace replaykit {

NStepReturns::NStepReturns(uint64_t capacity, NStep options)
    : n_(options.n), power_(options.n + 1, 1.0), items_(capacity) {
  for (uint32_t k = 1; k <= n_; ++k) power_[k] = power_[k - 1] * options.gamma;
  back_.reserve(n_);
}

void NStepReturns::before_row(const EpisodeIndex& index, uint64_t slot) {
  if (slot == kNoSlot || !index.stored(slot) || n_ == 1) return;
  // The items up to n - 1 before the one leaving (nearest first) reach it in their chains: each
  // now ends at the item just before it. Their sums again, in the order a walk sums them.
  back_.clear();
  for (uint64_t p = index.prev(slot); p != kNoSlot && back_.size() + 1 < n_; p = index.prev(p)) back_.push_back(p);
  if (back_.empty()) return;  // FIFO: the item overwritten is its episode's oldest stored one
  const uint64_t last = back_[0];
  const uint8_t flags = index.flags(last);
  for (size_t k = 1; k <= back_.size(); ++k) {  // back_[k - 1]'s chain: back_[k - 1], ..., back_[0]
    Item& it = items_[back_[k - 1]];
    double sum = 0;
    for (size_t j = 0; j < k; ++j) sum += power_[j] * items_[back_[k - 1 - j]].reward;
    it.sum = sum;
    it.last = last;
    it.m = static_cast<uint32_t>(k);
    it.last_flags = flags;
  }
}

void NStepReturns::after_row(const EpisodeIndex& index, uint64_t slot, double reward) {
  if (slot == kNoSlot) return;  // overwritten at once: it ends no chain (the next row's prev is gone)
  const uint8_t flags = index.flags(slot);
  items_[slot] = Item{power_[0] * reward, reward, slot, 1, flags};
  // The items before it in its episode whose chains are not yet n long end at its predecessor
  // (each chain is contiguous, and only the newest row of an episode can extend them).
  uint64_t p = index.prev(slot);
  for (uint32_t k = 1; k < n_ && p != kNoSlot; ++k, p = index.prev(p)) {
    Item& it = items_[p];
    if (it.m != k) break;  // defensive: a chain cut shorter stays as it is
    it.sum += power_[k] * reward;
    it.last = slot;
    it.m = k + 1;
    it.last_flags = flags;
  }
}

void NStepReturns::rebuild(const EpisodeIndex& index, uint64_t length, const double* rewards) {
  for (uint64_t s = 0; s < length; ++s) {
    Item& it = items_[s];
    it.reward = rewards[s];
    it.sum = 0;
    it.m = 0;
    uint64_t cur = s;
    for (;;) {
      it.sum += power_[it.m] * rewards[cur];
      it.last = cur;
      ++it.m;
      if (it.m == n_ || index.ends(cur)) break;
      const uint64_t next = index.next(cur);
      if (next == kNoSlot) break;
      cur = next;
    }
    it.last_flags = index.flags(it.last);
  }
}

}  // namespace replaykit
