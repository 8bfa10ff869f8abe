#include "episodes.h"

#include <algorithm>
#include <string>

#include "error.h"

namespace replaykit {

EpisodeIndex::EpisodeIndex(uint64_t capacity)
    : episode_(capacity, 0), step_(capacity, 0), next_(capacity, kNoSlot), prev_(capacity, kNoSlot), env_(capacity, 0),
      flags_(capacity, 0) {}

void EpisodeIndex::on_write(uint64_t slot, uint32_t env, bool terminated, bool truncated) {
  if (env >= kMaxEnvStreams) fail(ErrorKind::Range, "an env id must be below 2^20, got " + std::to_string(env));
  if (env >= streams_.size()) streams_.resize(env + 1);
  Stream& s = streams_[env];
  if (!s.open) {
    s.open = true;
    s.episode = next_episode_++;
    s.next_step = 0;
    s.last_slot = kNoSlot;
  }
  if (slot != kNoSlot) {
    episode_[slot] = s.episode;
    step_[slot] = s.next_step;
    env_[slot] = env;
    flags_[slot] = (terminated ? kTerminated : 0) | (truncated ? kTruncated : 0);
    next_[slot] = kNoSlot;
    prev_[slot] = s.last_slot;
    if (s.last_slot != kNoSlot && episode_[s.last_slot] == s.episode && step_[s.last_slot] + 1 == s.next_step)
      next_[s.last_slot] = slot;
  }
  s.last_slot = slot;
  ++s.next_step;
  if (terminated || truncated) s.open = false;
}

void EpisodeIndex::clear() {
  std::fill(episode_.begin(), episode_.end(), 0);
  std::fill(next_.begin(), next_.end(), kNoSlot);
  std::fill(prev_.begin(), prev_.end(), kNoSlot);
  std::fill(flags_.begin(), flags_.end(), 0);
  for (Stream& s : streams_) s.last_slot = kNoSlot;
}

uint32_t nstep_chain(const EpisodeIndex& index, uint64_t slot, uint32_t n, uint64_t* out) {
  uint32_t m = 0;
  for (uint64_t s = slot;;) {
    out[m++] = s;
    if (m == n || index.ends(s)) return m;
    s = index.next(s);
    if (s == kNoSlot) return m;
  }
}

}  // namespace replaykit
