// replaykit core: HER's goal choice (her.h), and the sample's relabelling step that copies
// each chosen goal into the batch through the buffer's one gather path (buffer.h).
#include "her.h"

#include <algorithm>
#include <cstring>

#include "buffer.h"
#include "error.h"
#include "random.h"

namespace replaykit {

namespace {

// Steps forward from slot by its episode's links.
uint64_t walk(const EpisodeIndex& index, uint64_t slot, uint64_t steps) {
  for (uint64_t j = 0; j < steps; ++j) slot = index.next(slot);
  return slot;
}

// Stored items after slot in its episode.
uint64_t count_after(const EpisodeIndex& index, uint64_t slot) {
  uint64_t c = 0;
  for (uint64_t s = index.next(slot); s != kNoSlot; s = index.next(s)) ++c;
  return c;
}

}  // namespace

void her_draw(uint64_t n, uint32_t k, const uint32_t* seed_words, std::vector<uint64_t>& rows,
              std::vector<uint64_t>& words) {
  SplitMix64 rng{word64(seed_words)};
  const uint64_t m = her_relabelled_count(n, k);
  thread_local std::vector<uint64_t> perm;
  perm.resize(n);
  for (uint64_t i = 0; i < n; ++i) perm[i] = i;
  for (uint64_t i = 0; i < m; ++i) std::swap(perm[i], perm[i + below(rng.next(), n - i)]);
  rows.assign(perm.begin(), perm.begin() + static_cast<std::ptrdiff_t>(m));
  std::sort(rows.begin(), rows.end());
  words.resize(m);
  for (uint64_t i = 0; i < m; ++i) words[i] = rng.next();
}

uint64_t her_goal_slot(const EpisodeIndex& index, uint64_t slot, HerStrategy strategy, uint64_t u) {
  switch (strategy) {
    case HerStrategy::Future:
      return walk(index, slot, below(u, count_after(index, slot) + 1));
    case HerStrategy::Final: {
      uint64_t last = slot;
      for (uint64_t s = index.next(slot); s != kNoSlot; s = index.next(s)) last = s;
      return last;
    }
    case HerStrategy::Episode: {
      uint64_t first = slot;
      for (uint64_t s = index.prev(slot); s != kNoSlot; s = index.prev(s)) first = s;
      return walk(index, first, below(u, count_after(index, first) + 1));
    }
  }
  return slot;
}

void ReplayBuffer::check_her(const HerOptions& her, bool nstep) const {
  // n-step items sum rewards along a chain that a relabelled goal would change at every step:
  // refused rather than half done.
  if (nstep) fail(ErrorKind::State, "hindsight relabelling (her) cannot be combined with n-step returns (nStep)");
  if (her.k > kMaxHerK) fail(ErrorKind::Range, "her.k must be an integer in [0, 65536], got " + std::to_string(her.k));
  const size_t fs[3] = {her.goal, her.achieved_goal, her.next_achieved_goal};
  for (size_t f : fs)
    if (f >= schema_.size()) fail(ErrorKind::Shape, "her names a field the schema does not have");
  if (fs[0] == fs[1] || fs[0] == fs[2] || fs[1] == fs[2]) fail(ErrorKind::Shape, "her's three fields must be distinct");
  const Field& g = schema_[her.goal];
  for (size_t f : {fs[1], fs[2]})
    if (schema_[f].dtype != g.dtype || schema_[f].shape != g.shape)
      fail(ErrorKind::Shape, "her's goal fields must have the same shape and dtype ('" + g.name + "' and '" + schema_[f].name + "' differ)");
  if (derived_)
    for (size_t f : fs)
      if (derived_->stored_field(f) == kNoField || (f == derived_->options().obs && derived_->options().frames > 1))
        fail(ErrorKind::Shape, "her's fields must be stored as pushed ('" + schema_[f].name + "' is rebuilt from other items)");
}

// Under the lock (sample()): the goal slots of the relabelled rows, from the drawn slots.
void ReplayBuffer::her_goals(const uint64_t* slots, const std::vector<uint64_t>& rows, const std::vector<uint64_t>& words,
                             std::vector<uint64_t>& goals) const {
  goals.resize(rows.size());
  for (size_t j = 0; j < rows.size(); ++j) goals[j] = her_goal_slot(*episodes_, slots[rows[j]], her_->strategy, words[j]);
}

// After the gather, with the goal slots pinned: each relabelled row's goal is its goal slot's
// next achieved goal, read by the one gather path; relabelled[i] says which rows.
void ReplayBuffer::her_fill(uint64_t n, const std::vector<uint64_t>& rows, const std::vector<uint64_t>& goals,
                            void* const* outs, uint8_t* relabelled) const {
  std::memset(relabelled, 0, n);
  for (uint64_t r : rows) relabelled[r] = 1;
  auto* dst = static_cast<uint8_t*>(outs[her_->goal]);
  if (!dst || rows.empty()) return;
  const size_t bytes = schema_[her_->goal].row_bytes;
  thread_local std::vector<uint8_t> read;
  read.resize(rows.size() * bytes);
  gather_field(her_->next_achieved_goal, goals.data(), goals.size(), read.data());
  for (size_t j = 0; j < rows.size(); ++j) std::memcpy(dst + rows[j] * bytes, read.data() + j * bytes, bytes);
}

}  // namespace replaykit
