// The episode index and n-step returns, against a deliberately plain reference that knows
// only the list of pushed rows and which of them the buffer still holds.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "archive.h"
#include "buffer.h"
#include "episodes.h"
#include "error.h"
#include "nstep.h"
#include "storage.h"

using namespace replaykit;

namespace {

// id float64, reward float32, nextObs float32[2] (= id, -id), terminated, truncated.
Schema episode_schema() {
  return Schema({make_field("id", Dtype::Float64, {}), make_field("reward", Dtype::Float32, {}),
                 make_field("nextObs", Dtype::Float32, {2}), make_field("terminated", Dtype::Bool, {}),
                 make_field("truncated", Dtype::Bool, {})});
}

EpisodeOptions episode_options(uint32_t n, double gamma) {
  EpisodeOptions o;
  o.terminated = 3;
  o.truncated = 4;
  o.reward = 1;
  o.next_obs = 2;
  o.nstep = NStep{n, gamma};
  return o;
}

struct Row {
  uint32_t env;
  float reward;
  bool terminated, truncated;
};

// Pushed rows by id, and pushes that make them.
struct Stream {
  std::vector<Row> rows;  // by id
  std::mt19937 g;
  explicit Stream(uint32_t seed) : g(seed) {}

  // Pushes a batch of 1..max rows of random envs (0..envs-1) with random episode ends.
  void push(ReplayBuffer& b, uint32_t envs, uint32_t max, bool one_env = false, uint32_t env = 0) {
    const uint32_t n = 1 + g() % max;
    std::vector<double> id(n);
    std::vector<float> reward(n), next(2 * n);
    std::vector<uint8_t> term(n), trunc(n);
    std::vector<uint32_t> env_ids(n);
    for (uint32_t r = 0; r < n; ++r) {
      Row row{one_env ? env : uint32_t(g() % envs), float(int(g() % 21) - 10) / 4.0f, g() % 9 == 0, false};
      row.truncated = !row.terminated && g() % 13 == 0;
      id[r] = double(rows.size());
      reward[r] = row.reward;
      next[2 * r] = float(id[r]);
      next[2 * r + 1] = -float(id[r]);
      term[r] = row.terminated;
      trunc[r] = row.truncated;
      env_ids[r] = row.env;
      rows.push_back(row);
    }
    const void* cols[5] = {id.data(), reward.data(), next.data(), term.data(), trunc.data()};
    b.push(cols, n, nullptr, env_ids.data());
  }
};

// The n-step item of row `id` as the reference computes it from the rows and the set stored.
struct Expected {
  double reward;
  float next0;
  bool terminated, truncated;
  float discount;
};
Expected expected(const std::vector<Row>& rows, const std::set<uint64_t>& stored, uint64_t id, uint32_t n, double gamma) {
  double sum = 0, power = 1;
  uint64_t cur = id;
  uint32_t m = 0;
  for (;;) {
    sum += power * rows[cur].reward;
    power *= gamma;
    ++m;
    if (m == n || rows[cur].terminated || rows[cur].truncated) break;
    uint64_t nxt = cur + 1;  // the next row of the same env
    while (nxt < rows.size() && rows[nxt].env != rows[cur].env) ++nxt;
    if (nxt >= rows.size() || !stored.count(nxt)) break;
    cur = nxt;
  }
  return {sum, float(cur), rows[cur].terminated, rows[cur].truncated, rows[cur].terminated ? 0.0f : float(power)};
}

std::set<uint64_t> stored_ids(const ReplayBuffer& b) {
  std::vector<uint64_t> pos(b.length()), keys(b.length());
  for (uint64_t p = 0; p < pos.size(); ++p) pos[p] = p;
  std::vector<double> id(pos.size());
  void* outs[5] = {id.data(), nullptr, nullptr, nullptr, nullptr};
  b.read_positions(pos.data(), pos.size(), outs, keys.data());
  return std::set<uint64_t>(id.begin(), id.end());
}

// Samples `rounds` batches and checks every item against the reference.
void check_samples(ReplayBuffer& b, const std::vector<Row>& rows, uint32_t n, double gamma, uint32_t seed) {
  const std::set<uint64_t> stored = stored_ids(b);
  const uint64_t k = std::min<uint64_t>(64, b.length());
  std::vector<double> id(k);
  std::vector<float> reward(k), next(2 * k), discount(k), weights(k);
  std::vector<uint8_t> term(k), trunc(k);
  std::vector<uint64_t> keys(k);
  void* outs[5] = {id.data(), reward.data(), next.data(), term.data(), trunc.data()};
  std::mt19937 g(seed);
  for (int round = 0; round < 20; ++round) {
    std::vector<uint32_t> words(2 * k);
    for (auto& w : words) w = g();
    b.sample(k, words.data(), outs, keys.data(), b.prioritized() ? weights.data() : nullptr, std::nullopt, discount.data());
    for (uint64_t i = 0; i < k; ++i) {
      const Expected e = expected(rows, stored, uint64_t(id[i]), n, gamma);
      CAPTURE(id[i]);
      CHECK(reward[i] == doctest::Approx(e.reward).epsilon(1e-6));
      CHECK(next[2 * i] == e.next0);
      CHECK(next[2 * i + 1] == -e.next0);
      CHECK(bool(term[i]) == e.terminated);
      CHECK(bool(trunc[i]) == e.truncated);
      CHECK(discount[i] == doctest::Approx(e.discount).epsilon(1e-6));
    }
  }
}

}  // namespace

TEST_CASE("the index links each episode's items per environment stream and stops at overwritten ones") {
  EpisodeIndex x(4);
  x.on_write(0, 0, false, false);
  x.on_write(1, 1, false, false);
  x.on_write(2, 0, false, false);
  x.on_write(3, 1, false, true);  // env 1's episode truncated
  CHECK(x.next(0) == 2);
  CHECK(x.prev(2) == 0);
  CHECK(x.next(1) == 3);
  CHECK(x.next(3) == kNoSlot);
  CHECK(x.episode(0) == x.episode(2));
  CHECK(x.episode(1) != x.episode(0));
  CHECK(x.step(2) == 1);
  x.on_write(0, 1, false, false);  // env 1 starts a new episode over slot 0: env 0's head is cut
  CHECK(x.prev(2) == kNoSlot);
  CHECK(x.step(0) == 0);
  CHECK(x.episode(0) != x.episode(1));
  x.on_write(kNoSlot, 0, false, false);  // a row overwritten at once still counts in its episode
  x.on_write(1, 0, false, false);
  CHECK(x.step(1) == 3);
  CHECK(x.prev(1) == kNoSlot);  // its predecessor was never stored
  CHECK(x.next(2) == kNoSlot);  // the next item of its episode is gone
  CHECK_THROWS_AS(x.on_write(2, 1u << 20, false, false), Error);
}

TEST_CASE("n-step records kept at write time equal a walk of the index, bit for bit, under random overwrites") {
  // Rows written to random slots (as lowest-priority eviction does: items taken from the middle
  // of episodes), FIFO laps, and a rebuild: every stored slot's record is what walking its
  // chain gives, summed in the same order.
  for (uint32_t n : {1u, 2u, 3u, 7u}) {
    CAPTURE(n);
    const uint64_t cap = 50;
    EpisodeIndex index(cap);
    NStepReturns records(cap, NStep{n, 0.93});
    std::vector<double> rewards(cap);
    std::mt19937 g(n);
    auto walk_check = [&](const NStepReturns& r) {
      for (uint64_t s = 0; s < cap; ++s) {
        if (!index.stored(s)) continue;
        double sum = 0, power = 1;
        uint32_t m = 0;
        uint64_t cur = s;
        for (;;) {
          sum += power * rewards[cur];
          power *= 0.93;
          ++m;
          if (m == n || index.ends(cur) || index.next(cur) == kNoSlot) break;
          cur = index.next(cur);
        }
        const NStepReturns::Item& it = r.item(s);
        CHECK(it.sum == sum);
        CHECK(it.m == m);
        CHECK(it.last == cur);
        CHECK(bool(it.last_flags & EpisodeIndex::kTerminated) == index.terminated(cur));
        CHECK(bool(it.last_flags & EpisodeIndex::kTruncated) == index.truncated(cur));
        CHECK(r.discount(it) == (index.terminated(cur) ? 0.0f : static_cast<float>(r.power(m))));
      }
    };
    uint64_t cursor = 0;
    for (int i = 0; i < 3000; ++i) {
      const bool evict = g() % 3 == 0;
      const uint64_t slot = evict ? g() % cap : cursor++ % cap;
      const uint32_t env = g() % 3;
      const bool term = g() % 13 == 0, trunc = !term && g() % 17 == 0;
      const double reward = double(g() % 1000) / 7.0;
      records.before_row(index, slot);
      index.on_write(slot, env, term, trunc);
      rewards[slot] = reward;
      records.after_row(index, slot, reward);
      if (i % 500 == 499) walk_check(records);
    }
    NStepReturns rebuilt(cap, NStep{n, 0.93});
    rebuilt.rebuild(index, cap, rewards.data());
    walk_check(rebuilt);
  }
}

TEST_CASE("n-step items match the reference: interleaved envs, wrap-around, every n and gamma") {
  for (uint32_t n : {1u, 2u, 3u, 5u, 40u}) {
    for (double gamma : {0.0, 0.9, 1.0}) {
      CAPTURE(n);
      CAPTURE(gamma);
      ReplayBuffer b(std::make_unique<MemoryStorage>(episode_schema(), 97), std::nullopt, episode_options(n, gamma));
      Stream s(n * 7 + uint32_t(gamma * 10));
      for (int i = 0; i < 60; ++i) s.push(b, 3, 20);  // several laps of the ring
      check_samples(b, s.rows, n, gamma, n);
    }
  }
}

TEST_CASE("n-step with lowest-priority eviction and tiered storage: chains stop at evicted items") {
  PrioritizedOptions lp;
  lp.eviction = Eviction::LowestPriority;
  ReplayBuffer evicting(std::make_unique<MemoryStorage>(episode_schema(), 64), lp, episode_options(4, 0.95));
  Stream a(3);
  std::mt19937 g(5);
  for (int i = 0; i < 40; ++i) {
    a.push(evicting, 2, 10);
    // Random priorities make eviction pick items from the middle of episodes.
    std::vector<uint64_t> keys(evicting.length());
    evicting.keys_in_order(keys.data());
    std::vector<double> d(keys.size());
    for (auto& x : d) x = (g() % 100) / 10.0;
    evicting.update_priorities(keys.data(), keys.size(), d.data());
  }
  check_samples(evicting, a.rows, 4, 0.95, 9);

  const std::string path = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/rk-episodes-tiered.tier";
  ReplayBuffer tiered(std::make_unique<TieredStorage>(episode_schema(), 80, 20, path), std::nullopt, episode_options(3, 0.5));
  Stream t(4);
  for (int i = 0; i < 50; ++i) t.push(tiered, 4, 15);
  check_samples(tiered, t.rows, 3, 0.5, 10);
}

TEST_CASE("n-step after clear: the streams go on, the items before are gone") {
  ReplayBuffer b(std::make_unique<MemoryStorage>(episode_schema(), 100), std::nullopt, episode_options(3, 0.9));
  Stream s(11);
  for (int i = 0; i < 10; ++i) s.push(b, 2, 8);
  b.clear();
  const size_t before = s.rows.size();
  while (b.length() < 64) s.push(b, 2, 8);
  check_samples(b, s.rows, 3, 0.9, 12);
  CHECK(stored_ids(b).count(before - 1) == 0);
}

TEST_CASE("n-step items stay whole while writers on other threads push their own env streams") {
  ReplayBuffer b(std::make_unique<MemoryStorage>(episode_schema(), 400), std::nullopt, episode_options(3, 0.9));
  // Each writer is its own env stream; ids say writer and row, so the reference is per stream.
  std::vector<std::thread> ts;
  std::vector<std::vector<Row>> streams(3);
  for (uint32_t w = 0; w < 3; ++w)
    ts.emplace_back([&, w] {
      std::mt19937 g(w + 20);
      for (int i = 0; i < 200; ++i) {
        const uint32_t n = 1 + g() % 30;
        std::vector<double> id(n);
        std::vector<float> reward(n), next(2 * n);
        std::vector<uint8_t> term(n), trunc(n);
        std::vector<uint32_t> env(n, w);
        for (uint32_t r = 0; r < n; ++r) {
          Row row{w, float(g() % 8), g() % 7 == 0, false};
          id[r] = w * 1e6 + double(streams[w].size());
          reward[r] = row.reward;
          next[2 * r] = float(id[r]);
          next[2 * r + 1] = -float(id[r]);
          term[r] = row.terminated;
          trunc[r] = 0;
          streams[w].push_back(row);
        }
        const void* cols[5] = {id.data(), reward.data(), next.data(), term.data(), trunc.data()};
        b.push(cols, n, nullptr, env.data());
      }
    });
  // The learner samples meanwhile: every n-step item's parts agree with each other.
  std::vector<double> id(64);
  std::vector<float> reward(64), next(128), discount(64);
  std::vector<uint8_t> term(64), trunc(64);
  std::vector<uint64_t> keys(64);
  void* outs[5] = {id.data(), reward.data(), next.data(), term.data(), trunc.data()};
  std::mt19937 g(1);
  for (int round = 0; round < 300; ++round) {
    if (b.length() < 64) continue;
    std::vector<uint32_t> words(128);
    for (auto& x : words) x = g();
    b.sample(64, words.data(), outs, keys.data(), nullptr, std::nullopt, discount.data());
    // The chain's last item is the item itself or one of the next two of its stream.
    for (int i = 0; i < 64; ++i)
      if (!(next[2 * i] >= id[i] && next[2 * i] <= id[i] + 2 && next[2 * i + 1] == -next[2 * i])) FAIL_CHECK("torn n-step item");
  }
  for (auto& t : ts) t.join();
  // After the writers: exact, per stream.
  const std::set<uint64_t> stored = stored_ids(b);
  std::vector<uint32_t> words(128);
  for (auto& x : words) x = g();
  b.sample(64, words.data(), outs, keys.data(), nullptr, std::nullopt, discount.data());
  for (int i = 0; i < 64; ++i) {
    const uint32_t w = uint32_t(id[i] / 1e6);
    const uint64_t local = uint64_t(id[i] - w * 1e6);
    std::set<uint64_t> local_stored;
    for (uint64_t x : stored)
      if (uint32_t(x / 1e6) == w) local_stored.insert(uint64_t(double(x) - w * 1e6));
    const Expected e = expected(streams[w], local_stored, local, 3, 0.9);
    CHECK(reward[i] == doctest::Approx(e.reward).epsilon(1e-6));
    CHECK(next[2 * i] == float(w * 1e6 + e.next0));
    CHECK(discount[i] == doctest::Approx(e.discount).epsilon(1e-6));
  }
}

namespace {

ArchiveMeta episode_meta() {
  ArchiveMeta m;
  m.rng_state[0] = 0x2468;
  m.seed = 3;
  return m;
}

// Two buffers sampled with the same words give the same items (ids, n-step rewards, discounts).
void check_same_samples(ReplayBuffer& a, ReplayBuffer& b, uint32_t seed) {
  const uint64_t k = std::min<uint64_t>(48, a.length());
  std::mt19937 g(seed);
  for (int round = 0; round < 10; ++round) {
    std::vector<uint32_t> words(2 * k);
    for (auto& w : words) w = g();
    std::vector<double> ida(k), idb(k);
    std::vector<float> ra(k), rb(k), na(2 * k), nb(2 * k), da(k), db(k);
    std::vector<uint8_t> ta(k), tb(k), ua(k), ub(k);
    std::vector<uint64_t> ka(k), kb(k);
    void* oa[5] = {ida.data(), ra.data(), na.data(), ta.data(), ua.data()};
    void* ob[5] = {idb.data(), rb.data(), nb.data(), tb.data(), ub.data()};
    a.sample(k, words.data(), oa, ka.data(), nullptr, std::nullopt, da.data());
    b.sample(k, words.data(), ob, kb.data(), nullptr, std::nullopt, db.data());
    CHECK(ida == idb);
    CHECK(ra == rb);
    CHECK(na == nb);
    CHECK(ta == tb);
    CHECK(ua == ub);
    CHECK(da == db);
    CHECK(ka == kb);
  }
}

}  // namespace

TEST_CASE("the episode index round-trips through an archive: the same n-step items, and the streams go on") {
  for (uint64_t cap : {50u, 97u}) {  // full and wrapped, and (below) not yet full
    for (int laps : {0, 6}) {
      CAPTURE(cap);
      CAPTURE(laps);
      ReplayBuffer b(std::make_unique<MemoryStorage>(episode_schema(), cap), std::nullopt, episode_options(3, 0.9));
      Stream s(cap + laps);
      while (b.length() < 20) s.push(b, 3, 6);
      for (int i = 0; i < laps * 10; ++i) s.push(b, 3, 9);
      const std::vector<uint8_t> bytes = encode_archive(b, episode_meta());
      const ArchiveView v = parse_archive(bytes.data(), bytes.size());
      REQUIRE(v.episodes >= 0);
      CHECK(v.episodes_record().nstep_n == 3);
      auto again = make_buffer_for(v);
      REQUIRE(again->episodes() != nullptr);
      again->restore(v);
      check_same_samples(b, *again, 1);
      check_samples(*again, s.rows, 3, 0.9, 2);
      // Both go on with the same rows: the open episodes continue across the archive.
      Stream s2 = s;
      for (int i = 0; i < 15; ++i) {
        s.push(b, 3, 9);
        s2.push(*again, 3, 9);
      }
      check_same_samples(b, *again, 3);
      check_samples(*again, s2.rows, 3, 0.9, 4);
    }
  }
}

TEST_CASE("an episode index section that lies is an ArchiveError, and the buffer stays empty") {
  ReplayBuffer b(std::make_unique<MemoryStorage>(episode_schema(), 40), std::nullopt, episode_options(2, 0.5));
  Stream s(21);
  for (int i = 0; i < 12; ++i) s.push(b, 2, 6);
  const std::vector<uint8_t> good = encode_archive(b, episode_meta());
  const ArchiveView gv = parse_archive(good.data(), good.size());
  const SectionEntry es = gv.sections[gv.episodes];
  const uint64_t items = gv.header.length;
  // Offsets of the arrays (episodes.cpp's layout): record 64, then episode, step, prev, next (8 each), env (4), flags (1).
  auto pad8 = [](uint64_t x) { return (x + 7) & ~uint64_t(7); };
  const uint64_t episode_at = 64, prev_at = 64 + 16 * items, env_at = 64 + 32 * items, flags_at = pad8(env_at + 4 * items);
  struct Lie {
    const char* what;
    uint64_t at;  // within the section
    uint64_t value;
    int bytes;
  };
  const Lie lies[] = {
      {"a link outside the capacity", prev_at + 8 * 3, 1000, 8},
      {"an episode id of 0 for a stored slot", episode_at + 8 * 2, 0, 8},
      {"an episode id past the next one", episode_at, uint64_t(1) << 40, 8},
      {"an env id no stream has", env_at + 4 * 5, 77, 4},
      {"end flags that are not the stored ones", flags_at + 1, 3, 1},
  };
  for (const Lie& lie : lies) {
    CAPTURE(lie.what);
    std::vector<uint8_t> bytes = good;
    std::memcpy(bytes.data() + es.offset + lie.at, &lie.value, lie.bytes);
    // Section checksums are verified separately (ChecksumVerifier); restore sees content only.
    const ArchiveView v = parse_archive(bytes.data(), bytes.size());
    auto fresh = make_buffer_for(v);
    CHECK_THROWS_AS(fresh->restore(v), Error);
    CHECK(fresh->length() == 0);
  }
  // A buffer without episodes refuses the archive, and a buffer with them refuses one without.
  ReplayBuffer plain(std::make_unique<MemoryStorage>(episode_schema(), 40), std::nullopt);
  CHECK_THROWS_AS(plain.restore(gv), Error);
  const std::vector<uint8_t> plain_bytes = encode_archive(plain, episode_meta());
  const ArchiveView pv = parse_archive(plain_bytes.data(), plain_bytes.size());
  ReplayBuffer with(std::make_unique<MemoryStorage>(episode_schema(), 40), std::nullopt, episode_options(2, 0.5));
  CHECK_THROWS_AS(with.restore(pv), Error);
  // Other n-step options refuse it too.
  ReplayBuffer other(std::make_unique<MemoryStorage>(episode_schema(), 40), std::nullopt, episode_options(3, 0.5));
  CHECK_THROWS_AS(other.restore(gv), Error);
}

namespace {

// The window the reference gives from row `id`: ids of its steps (-1: padding), its burn-in's.
struct RefWindow {
  std::vector<int64_t> steps, burn;
};
RefWindow ref_window(const std::vector<Row>& rows, const std::set<uint64_t>& stored, uint64_t id, const SequenceSpec& spec) {
  auto ends = [&](uint64_t r) { return rows[r].terminated || rows[r].truncated; };
  auto next_row = [&](uint64_t r) -> int64_t {
    if (!spec.cross_episodes && ends(r)) return -1;
    for (uint64_t k = r + 1; k < rows.size(); ++k)
      if (rows[k].env == rows[r].env) return stored.count(k) ? int64_t(k) : -1;
    return -1;
  };
  auto prev_row = [&](uint64_t r) -> int64_t {
    for (uint64_t k = r; k-- > 0;)
      if (rows[k].env == rows[r].env) return stored.count(k) && (spec.cross_episodes || !ends(k)) ? int64_t(k) : -1;
    return -1;
  };
  RefWindow w;
  int64_t cur = int64_t(id);
  for (uint64_t j = 0; j < spec.length; ++j) {
    if (j > 0 && cur >= 0) cur = next_row(uint64_t(cur));
    w.steps.push_back(cur);
  }
  w.burn.assign(spec.burn_in, -1);
  cur = int64_t(id);
  for (uint64_t j = spec.burn_in; j-- > 0;) {
    if (cur >= 0) cur = prev_row(uint64_t(cur));
    w.burn[j] = cur;
  }
  return w;
}

uint64_t ref_step(const std::vector<Row>& rows, uint64_t id) {
  uint64_t step = 0;
  for (uint64_t k = id; k-- > 0;) {
    if (rows[k].env != rows[id].env) continue;
    if (rows[k].terminated || rows[k].truncated) break;
    ++step;
  }
  return step;
}

void check_sequences(ReplayBuffer& b, const std::vector<Row>& rows, const SequenceSpec& spec, uint32_t seed) {
  const std::set<uint64_t> stored = stored_ids(b);
  const uint64_t n = 16, L = spec.length, B = spec.burn_in;
  std::vector<double> id(n * L), burn_id(n * B);
  std::vector<float> reward(n * L), burn_reward(n * B);
  std::vector<uint8_t> mask(n * L), burn_mask(n * B);
  std::vector<uint64_t> keys(n);
  std::vector<float> weights(n);
  void* outs[5] = {id.data(), reward.data(), nullptr, nullptr, nullptr};
  void* burn_outs[5] = {burn_id.data(), burn_reward.data(), nullptr, nullptr, nullptr};
  std::mt19937 g(seed);
  for (int round = 0; round < 10; ++round) {
    std::vector<uint32_t> words(2 * n + 2);
    for (auto& w : words) w = g();
    b.sample_sequences(n, spec, words.data(), outs, mask.data(), burn_outs, burn_mask.data(), keys.data(),
                       b.prioritized() ? weights.data() : nullptr);
    for (uint64_t i = 0; i < n; ++i) {
      REQUIRE(mask[i * L] == 1);
      const uint64_t start = uint64_t(id[i * L]);
      CAPTURE(start);
      CHECK(ref_step(rows, start) % spec.stride == 0);
      const RefWindow w = ref_window(rows, stored, start, spec);
      for (uint64_t j = 0; j < L; ++j) {
        CHECK(bool(mask[i * L + j]) == (w.steps[j] >= 0));
        CHECK(id[i * L + j] == (w.steps[j] >= 0 ? double(w.steps[j]) : 0.0));
        CHECK(reward[i * L + j] == (w.steps[j] >= 0 ? rows[w.steps[j]].reward : 0.0f));
      }
      if (!spec.pad) CHECK(w.steps.back() >= 0);
      for (uint64_t j = 0; j < B; ++j) {
        CHECK(bool(burn_mask[i * B + j]) == (w.burn[j] >= 0));
        CHECK(burn_id[i * B + j] == (w.burn[j] >= 0 ? double(w.burn[j]) : 0.0));
      }
    }
  }
}

}  // namespace

TEST_CASE("sequence windows match the reference: pad, whole windows, stride, burn-in, across episodes") {
  for (bool prioritized : {false, true}) {
    for (uint64_t cap : {60u, 200u}) {
      std::optional<PrioritizedOptions> per;
      if (prioritized) per = PrioritizedOptions{};
      EpisodeOptions o = episode_options(1, 0.9);
      o.nstep.reset();  // the index alone
      ReplayBuffer b(std::make_unique<MemoryStorage>(episode_schema(), cap), per, o);
      Stream s(uint32_t(cap) + prioritized);
      for (int i = 0; i < 80; ++i) s.push(b, 3, 9);  // wraps: FIFO cuts episodes' heads
      for (bool cross : {false, true}) {
        for (bool pad : {true, false}) {
          for (uint64_t stride : {1u, 2u}) {
            SequenceSpec spec;
            spec.length = pad ? 7 : 3;
            spec.stride = stride;
            spec.burn_in = 4;
            spec.cross_episodes = cross;
            spec.pad = pad;
            CAPTURE(prioritized);
            CAPTURE(cap);
            CAPTURE(cross);
            CAPTURE(pad);
            CAPTURE(stride);
            check_sequences(b, s.rows, spec, uint32_t(stride * 10 + cross * 2 + pad));
          }
        }
      }
    }
  }
}

TEST_CASE("sequence starts are drawn uniformly, or by priority among fitting starts (chi-square)") {
  EpisodeOptions o = episode_options(1, 0.9);
  o.nstep.reset();
  // 40 items of one env, episodes of 10: with whole windows of 4, the fitting starts are steps 0..6 of each.
  for (bool prioritized : {false, true}) {
    std::optional<PrioritizedOptions> per;
    if (prioritized) {
      per = PrioritizedOptions{};
      per->alpha = 1.0;
    }
    ReplayBuffer b(std::make_unique<MemoryStorage>(episode_schema(), 40), per, o);
    std::vector<double> id(40);
    std::vector<float> reward(40), next(80);
    std::vector<uint8_t> term(40), trunc(40);
    for (int i = 0; i < 40; ++i) {
      id[i] = i;
      term[i] = i % 10 == 9;
    }
    const void* cols[5] = {id.data(), reward.data(), next.data(), term.data(), trunc.data()};
    std::vector<double> pr(40);
    for (int i = 0; i < 40; ++i) pr[i] = 1 + i % 3;
    b.push(cols, 40, prioritized ? pr.data() : nullptr);
    SequenceSpec spec;
    spec.length = 4;
    spec.pad = false;
    const uint64_t n = 40, draws = 500;
    std::vector<double> counts(40, 0);
    std::vector<double> out_id(n * 4);
    std::vector<uint8_t> mask(n * 4);
    std::vector<uint64_t> keys(n);
    std::vector<float> weights(n);
    void* outs[5] = {out_id.data(), nullptr, nullptr, nullptr, nullptr};
    std::mt19937 g(prioritized ? 17 : 16);
    for (uint64_t d = 0; d < draws; ++d) {
      std::vector<uint32_t> words(2 * n + 2);
      for (auto& w : words) w = g();
      b.sample_sequences(n, spec, words.data(), outs, mask.data(), nullptr, nullptr, keys.data(), prioritized ? weights.data() : nullptr);
      for (uint64_t i = 0; i < n; ++i) counts[size_t(out_id[i * 4])] += 1;
    }
    double total_p = 0;
    for (int i = 0; i < 40; ++i)
      if (i % 10 <= 6) total_p += prioritized ? pr[i] : 1;
    double chi2 = 0;
    int cells = 0;
    for (int i = 0; i < 40; ++i) {
      if (i % 10 > 6) {
        CHECK(counts[i] == 0);  // its window would run past the episode's end
        continue;
      }
      const double expect = double(n * draws) * (prioritized ? pr[i] : 1) / total_p;
      chi2 += (counts[i] - expect) * (counts[i] - expect) / expect;
      ++cells;
    }
    // 27 degrees of freedom: the 0.999 quantile is 55.5.
    CAPTURE(prioritized);
    CHECK(cells == 28);
    CHECK(chi2 < 55.5);
  }
}

TEST_CASE("sequences refuse what they cannot do, and change nothing") {
  ReplayBuffer plain(std::make_unique<MemoryStorage>(episode_schema(), 20), std::nullopt);
  EpisodeOptions o = episode_options(1, 0.9);
  o.nstep.reset();
  ReplayBuffer b(std::make_unique<MemoryStorage>(episode_schema(), 20), std::nullopt, o);
  Stream s(5);
  s.push(plain, 1, 5);
  Stream t(5);
  while (b.length() < 10) t.push(b, 1, 5);
  std::vector<uint32_t> words(2 * 4 + 2, 7);
  std::vector<double> id(4 * 3);
  std::vector<uint8_t> mask(4 * 3);
  std::vector<uint64_t> keys(4);
  void* outs[5] = {id.data(), nullptr, nullptr, nullptr, nullptr};
  SequenceSpec spec;
  spec.length = 3;
  CHECK_THROWS_AS(plain.sample_sequences(4, spec, words.data(), outs, mask.data(), nullptr, nullptr, keys.data(), nullptr), Error);
  SequenceSpec bad = spec;
  bad.stride = 0;
  CHECK_THROWS_AS(b.sample_sequences(4, bad, words.data(), outs, mask.data(), nullptr, nullptr, keys.data(), nullptr), Error);
  bad = spec;
  bad.length = 0;
  CHECK_THROWS_AS(b.sample_sequences(4, bad, words.data(), outs, mask.data(), nullptr, nullptr, keys.data(), nullptr), Error);
  const uint64_t stored = b.length();
  std::vector<uint32_t> more(2 * (stored + 1) + 2, 7);
  std::vector<double> more_id((stored + 1) * 3);
  std::vector<uint8_t> more_mask((stored + 1) * 3);
  std::vector<uint64_t> more_keys(stored + 1);
  void* more_outs[5] = {more_id.data(), nullptr, nullptr, nullptr, nullptr};
  CHECK_THROWS_AS(b.sample_sequences(stored + 1, spec, more.data(), more_outs, more_mask.data(), nullptr, nullptr, more_keys.data(), nullptr), Error);
  bad = spec;
  bad.pad = false;
  bad.length = 1000;  // no episode is that long
  std::vector<double> big(4 * 1000);
  std::vector<uint8_t> big_mask(4 * 1000);
  void* big_outs[5] = {big.data(), nullptr, nullptr, nullptr, nullptr};
  CHECK_THROWS_AS(b.sample_sequences(4, bad, words.data(), big_outs, big_mask.data(), nullptr, nullptr, keys.data(), nullptr), Error);
  CHECK(b.length() == stored);
}

TEST_CASE("sequence windows stay whole while writers on other threads push their own env streams") {
  EpisodeOptions o = episode_options(1, 0.9);
  o.nstep.reset();
  ReplayBuffer b(std::make_unique<MemoryStorage>(episode_schema(), 300), std::nullopt, o);
  std::vector<std::thread> ts;
  for (uint32_t w = 0; w < 3; ++w)
    ts.emplace_back([&, w] {
      std::mt19937 g(w + 40);
      double next_id = w * 1e6;
      for (int i = 0; i < 200; ++i) {
        const uint32_t n = 1 + g() % 20;
        std::vector<double> id(n);
        std::vector<float> reward(n), next(2 * n);
        std::vector<uint8_t> term(n), trunc(n);
        std::vector<uint32_t> env(n, w);
        for (uint32_t r = 0; r < n; ++r) {
          id[r] = next_id++;
          term[r] = g() % 11 == 0;
        }
        const void* cols[5] = {id.data(), reward.data(), next.data(), term.data(), trunc.data()};
        b.push(cols, n, nullptr, env.data());
      }
    });
  // Every window is consecutive rows of one writer's stream (ids + 1 a step), across episodes.
  SequenceSpec spec;
  spec.length = 6;
  spec.burn_in = 2;
  spec.cross_episodes = true;
  const uint64_t n = 16;
  std::vector<double> id(n * 6), burn(n * 2);
  std::vector<uint8_t> mask(n * 6), burn_mask(n * 2);
  std::vector<uint64_t> keys(n);
  void* outs[5] = {id.data(), nullptr, nullptr, nullptr, nullptr};
  void* burn_outs[5] = {burn.data(), nullptr, nullptr, nullptr, nullptr};
  std::mt19937 g(2);
  for (int round = 0; round < 300; ++round) {
    if (b.length() < n) continue;
    std::vector<uint32_t> words(2 * n + 2);
    for (auto& x : words) x = g();
    b.sample_sequences(n, spec, words.data(), outs, mask.data(), burn_outs, burn_mask.data(), keys.data(), nullptr);
    for (uint64_t i = 0; i < n; ++i) {
      for (uint64_t j = 1; j < 6; ++j)
        if (mask[i * 6 + j] && id[i * 6 + j] != id[i * 6 + j - 1] + 1) FAIL_CHECK("a window's steps are not consecutive rows of one stream");
      for (uint64_t j = 0; j < 2; ++j)
        if (burn_mask[i * 2 + j] && burn[i * 2 + j] != id[i * 6] - double(2 - j)) FAIL_CHECK("a burn-in step is not the row before");
    }
  }
  for (auto& t : ts) t.join();
}
