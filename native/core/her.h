// replaykit core: hindsight experience replay (Andrychowicz et al. 2017), the goal choice.
//
// Semantics of stable-baselines3's HerReplayBuffer (her_replay_buffer.py, _sample_goals):
// a batch of n rows has floor(n * k / (k + 1)) rows relabelled (SB3's her_ratio = 1 - 1 /
// (k + 1), in integers so that no rounding decides a row); each relabelled row's goal becomes
// the next achieved goal of a transition of its own episode chosen by the strategy:
// - Future: uniformly among the row's own and the later stored transitions of its episode
//   (SB3 draws randint(current, episode_length): the row itself included);
// - Final: the episode's last stored transition;
// - Episode: uniformly among every stored transition of the episode.
// "Stored" is what the episode index reaches from the row by its checked links (episodes.h):
// an episode still open gives goals from its stored part; an item overwritten or evicted in
// the middle of an episode cuts it there, so goals come only from the part around the row.
// Every row has at least itself, so every chosen row is relabelled.
//
// Which rows. SB3 relabels the first rows of its batch, whose rows are drawn independently
// and uniformly, so any fixed set of that size would do. replaykit's prioritized draws are
// stratified (row i from the i-th slice of the total priority), so the first rows would be
// the items of the low slots: the relabelled rows are instead a uniform random subset of
// exactly that many rows (the same distribution as SB3's for uniform draws).
//
// Randomness: a SplitMix64 stream (Steele et al. 2014) seeded by two words of the buffer's
// generator: first the subset (a partial Fisher-Yates over the rows), then one 64-bit word
// per relabelled row for its goal. The goal slot is computed again from the same word
// whenever the sample waits for a slot being written (a link may have changed meanwhile).
//
// Cost: finding a goal walks the episode by its links, O(episode length) a relabelled row
// (SB3 keeps episode starts and lengths per slot instead; replaykit's index keeps links).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "episodes.h"

namespace replaykit {

enum class HerStrategy { Future, Final, Episode };

// The option her: the fields (indexes into the user schema; same shape and dtype, stored
// fields) and the strategy. The reward is the facade's (the user's computeReward).
struct HerOptions {
  size_t goal = 0, achieved_goal = 0, next_achieved_goal = 0;
  HerStrategy strategy = HerStrategy::Future;
  uint32_t k = 4;
};

constexpr uint32_t kMaxHerK = 1u << 16;

// floor(n * k / (k + 1)): the rows of a batch of n that are relabelled.
inline uint64_t her_relabelled_count(uint64_t n, uint32_t k) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(n) * k) / (uint64_t(k) + 1));
}

// The relabelled rows (ascending) and one uniform 64-bit word each, from the stream seeded by
// seed_words[0 .. 2). Allocates only when the vectors grow.
void her_draw(uint64_t n, uint32_t k, const uint32_t* seed_words, std::vector<uint64_t>& rows,
              std::vector<uint64_t>& words);

// The slot whose next achieved goal becomes the goal of the item at `slot`, by the strategy,
// from the uniform word u. Walks the episode: O(its stored length).
uint64_t her_goal_slot(const EpisodeIndex& index, uint64_t slot, HerStrategy strategy, uint64_t u);

}  // namespace replaykit
