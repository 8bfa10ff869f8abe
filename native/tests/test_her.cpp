// Hindsight relabelling's goal choice (her.h) against a plain reference that knows only the
// list of pushed rows and which of them the buffer still holds.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "buffer.h"
#include "error.h"
#include "her.h"
#include "storage.h"

using namespace replaykit;

namespace {

// id float64, goal, achieved, nextAchieved float32[2], reward float32, terminated, truncated.
// A row's nextAchieved is (id, 1000): a relabelled goal names the row it came from.
Schema her_schema() {
  return Schema({make_field("id", Dtype::Float64, {}), make_field("goal", Dtype::Float32, {2}),
                 make_field("achieved", Dtype::Float32, {2}), make_field("nextAchieved", Dtype::Float32, {2}),
                 make_field("reward", Dtype::Float32, {}), make_field("terminated", Dtype::Bool, {}),
                 make_field("truncated", Dtype::Bool, {})});
}

EpisodeOptions her_options(HerStrategy strategy, uint32_t k) {
  EpisodeOptions o;
  o.terminated = 5;
  o.truncated = 6;
  HerOptions h;
  h.goal = 1;
  h.achieved_goal = 2;
  h.next_achieved_goal = 3;
  h.strategy = strategy;
  h.k = k;
  o.her = h;
  return o;
}

struct Row {
  uint32_t env;
  bool ends;
};

struct Pusher {
  std::vector<Row> rows;
  std::mt19937 g;
  explicit Pusher(uint32_t seed) : g(seed) {}
  void push(ReplayBuffer& b, uint32_t envs, uint32_t max, double id_base = 0) {
    const uint32_t n = 1 + g() % max;
    std::vector<double> id(n);
    std::vector<float> goal(2 * n, -1.0f), ach(2 * n), next(2 * n), reward(n);
    std::vector<uint8_t> term(n), trunc(n);
    std::vector<uint32_t> env(n);
    for (uint32_t r = 0; r < n; ++r) {
      const Row row{uint32_t(g() % envs), g() % 8 == 0};
      id[r] = id_base + double(rows.size());
      ach[2 * r] = float(id[r]);
      next[2 * r] = float(id[r]);
      next[2 * r + 1] = 1000.0f;
      term[r] = row.ends && g() % 2 == 0;
      trunc[r] = row.ends && !term[r];
      env[r] = row.env;
      rows.push_back(row);
    }
    const void* cols[7] = {id.data(), goal.data(), ach.data(), next.data(), reward.data(), term.data(), trunc.data()};
    b.push(cols, n, nullptr, env.data());
  }
};

std::set<uint64_t> stored_ids(const ReplayBuffer& b) {
  std::vector<uint64_t> pos(b.length()), keys(b.length());
  for (uint64_t p = 0; p < pos.size(); ++p) pos[p] = p;
  std::vector<double> id(pos.size());
  void* outs[7] = {id.data(), nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
  b.read_positions(pos.data(), pos.size(), outs, keys.data());
  return std::set<uint64_t>(id.begin(), id.end());
}

// The ids the reference allows as the goal's source of row `id`: its episode's stored rows
// reachable from it without a gap, restricted by the strategy.
std::set<uint64_t> eligible(const std::vector<Row>& rows, const std::set<uint64_t>& stored, uint64_t id, HerStrategy s) {
  auto next_of = [&](uint64_t cur) -> int64_t {  // the next row of the same episode, if stored
    if (rows[cur].ends) return -1;
    uint64_t n = cur + 1;
    while (n < rows.size() && rows[n].env != rows[cur].env) ++n;
    return n < rows.size() && stored.count(n) ? int64_t(n) : -1;
  };
  auto prev_of = [&](uint64_t cur) -> int64_t {
    int64_t p = int64_t(cur) - 1;
    while (p >= 0 && rows[p].env != rows[cur].env) --p;
    return p >= 0 && !rows[p].ends && stored.count(uint64_t(p)) ? p : -1;
  };
  std::vector<uint64_t> after{id};
  for (int64_t n = next_of(id); n >= 0; n = next_of(uint64_t(n))) after.push_back(uint64_t(n));
  if (s == HerStrategy::Final) return {after.back()};
  std::set<uint64_t> out(after.begin(), after.end());
  if (s == HerStrategy::Episode)
    for (int64_t p = prev_of(id); p >= 0; p = prev_of(uint64_t(p))) out.insert(uint64_t(p));
  return out;
}

struct HerBatch {
  std::vector<double> id;
  std::vector<float> goal, ach, next, reward;
  std::vector<uint8_t> term, trunc, relabelled;
  std::vector<uint64_t> keys;
  std::vector<float> weights;
  void* outs[7];
  explicit HerBatch(uint64_t n)
      : id(n), goal(2 * n), ach(2 * n), next(2 * n), reward(n), term(n), trunc(n), relabelled(n), keys(n), weights(n) {
    void* o[7] = {id.data(), goal.data(), ach.data(), next.data(), reward.data(), term.data(), trunc.data()};
    std::copy(o, o + 7, outs);
  }
  void sample(ReplayBuffer& b, std::mt19937& g) {
    std::vector<uint32_t> w(2 * id.size() + 2);
    for (auto& x : w) x = g();
    b.sample(id.size(), w.data(), outs, keys.data(), b.prioritized() ? weights.data() : nullptr, std::nullopt, nullptr,
             relabelled.data());
  }
};

}  // namespace

TEST_CASE("the relabelled count is SB3's floor(n * k / (k + 1))") {
  CHECK(her_relabelled_count(256, 4) == 204);
  CHECK(her_relabelled_count(5, 4) == 4);
  CHECK(her_relabelled_count(1, 4) == 0);
  CHECK(her_relabelled_count(10, 0) == 0);
  CHECK(her_relabelled_count(7, 1) == 3);
}

TEST_CASE("relabelled goals match the reference: every strategy, interleaved envs, wrap-around, uniform and prioritized") {
  for (HerStrategy s : {HerStrategy::Future, HerStrategy::Final, HerStrategy::Episode}) {
    for (bool prioritized : {false, true}) {
      for (uint64_t cap : {31u, 200u}) {
        std::optional<PrioritizedOptions> per;
        if (prioritized) per = PrioritizedOptions{};
        ReplayBuffer b(std::make_unique<MemoryStorage>(her_schema(), cap), per, her_options(s, 4));
        Pusher p(uint32_t(cap) + uint32_t(s) * 7 + prioritized);
        std::mt19937 g(99);
        for (int round = 0; round < 30; ++round) {
          p.push(b, 3, 12);
          const std::set<uint64_t> stored = stored_ids(b);
          const uint64_t n = std::min<uint64_t>(25, b.length());
          HerBatch batch(n);
          batch.sample(b, g);
          uint64_t relabelled = 0;
          for (uint64_t i = 0; i < n; ++i) {
            const uint64_t id = uint64_t(batch.id[i]);
            CAPTURE(id);
            if (!batch.relabelled[i]) {
              CHECK(batch.goal[2 * i] == -1.0f);
              continue;
            }
            ++relabelled;
            REQUIRE(batch.goal[2 * i + 1] == 1000.0f);
            CHECK(eligible(p.rows, stored, id, s).count(uint64_t(batch.goal[2 * i])) == 1);
          }
          CHECK(relabelled == her_relabelled_count(n, 4));
        }
      }
    }
  }
}

TEST_CASE("future goals: offsets uniform over the row's own and later steps (chi-square), rows a uniform subset") {
  // One episode of 20 steps in one env, no end: an item at step t has 20 - t eligible goals.
  ReplayBuffer b(std::make_unique<MemoryStorage>(her_schema(), 64), std::nullopt, her_options(HerStrategy::Future, 3));
  std::vector<double> id(20);
  std::vector<float> goal(40, -1), ach(40), next(40), reward(20);
  std::vector<uint8_t> term(20), trunc(20);
  for (int r = 0; r < 20; ++r) {
    id[r] = r;
    next[2 * r] = float(r);
    next[2 * r + 1] = 1000;
  }
  const void* cols[7] = {id.data(), goal.data(), ach.data(), next.data(), reward.data(), term.data(), trunc.data()};
  b.push(cols, 20, nullptr, nullptr);
  std::map<std::pair<int, int>, double> cells;
  std::vector<double> at_step(20), relabelled_at(20), drawn_at(20);
  std::mt19937 g(5);
  HerBatch batch(16);
  for (int round = 0; round < 4000; ++round) {
    batch.sample(b, g);
    for (int i = 0; i < 16; ++i) {
      const int t = int(batch.id[i]);
      drawn_at[t] += 1;
      if (!batch.relabelled[i]) continue;
      relabelled_at[t] += 1;
      cells[{t, int(batch.goal[2 * i]) - t}] += 1;
    }
  }
  double chi = 0, df = 0;
  for (int t = 0; t < 20; ++t) {
    const double e = relabelled_at[t] / (20 - t);
    for (int o = 0; o < 20 - t; ++o) {
      const double x = cells[{t, o}] - e;
      chi += x * x / e;
    }
    df += 20 - t - 1;
  }
  CHECK(chi < df + 4 * std::sqrt(2 * df));
  // Relabelled rows are a uniform subset: the relabelled share of each item is k / (k + 1) = 12 / 16.
  double chi2 = 0;
  for (int t = 0; t < 20; ++t) {
    const double e = drawn_at[t] * 12.0 / 16.0, v = drawn_at[t] * 12.0 / 16.0 * 4.0 / 16.0;
    chi2 += (relabelled_at[t] - e) * (relabelled_at[t] - e) / v;
  }
  CHECK(chi2 < 19 + 4 * std::sqrt(2 * 19.0));
}

TEST_CASE("relabelled rows on a prioritized buffer are spread over the strata, not the first rows") {
  // Stratified draws order rows by slot: the last rows hold the newest slots. They are relabelled too.
  PrioritizedOptions per;
  ReplayBuffer b(std::make_unique<MemoryStorage>(her_schema(), 100), per, her_options(HerStrategy::Future, 4));
  Pusher p(3);
  for (int i = 0; i < 20; ++i) p.push(b, 2, 10);
  std::mt19937 g(1);
  HerBatch batch(10);
  std::vector<int> per_row(10);
  for (int round = 0; round < 500; ++round) {
    batch.sample(b, g);
    for (int i = 0; i < 10; ++i) per_row[i] += batch.relabelled[i];
  }
  for (int i = 0; i < 10; ++i) CHECK(std::abs(per_row[i] - 400) < 60);  // 500 * 8/10, binomial sd ~9
}

TEST_CASE("her options are checked: n-step, fields of other shapes, derived fields, k") {
  auto make = [](EpisodeOptions o) { ReplayBuffer b(std::make_unique<MemoryStorage>(her_schema(), 10), std::nullopt, o); };
  EpisodeOptions o = her_options(HerStrategy::Future, 4);
  o.nstep = NStep{3, 0.9};
  o.reward = 4;
  o.next_obs = 3;
  CHECK_THROWS_AS(make(o), Error);
  o = her_options(HerStrategy::Future, 4);
  o.her->achieved_goal = 4;  // reward: a scalar
  CHECK_THROWS_AS(make(o), Error);
  o = her_options(HerStrategy::Future, 4);
  o.her->goal = 9;
  CHECK_THROWS_AS(make(o), Error);
  o = her_options(HerStrategy::Future, 4);
  o.her->next_achieved_goal = 2;  // not distinct
  CHECK_THROWS_AS(make(o), Error);
  o = her_options(HerStrategy::Future, kMaxHerK + 1);
  CHECK_THROWS_AS(make(o), Error);
  CHECK_NOTHROW(make(her_options(HerStrategy::Episode, 0)));
}

TEST_CASE("relabelled goals stay whole while writers on other threads push (goal slots pinned)") {
  // A small ring that writers overwrite all the time: a goal read while its slot was written
  // would show a row of another env stream or an id before the row's own.
  ReplayBuffer b(std::make_unique<MemoryStorage>(her_schema(), 64), std::nullopt, her_options(HerStrategy::Future, 4));
  std::vector<std::thread> ts;
  for (uint32_t w = 0; w < 2; ++w)
    ts.emplace_back([&b, w] {
      std::mt19937 g(w + 40);
      double next_id = w * 1e6;
      for (int i = 0; i < 3000; ++i) {
        const uint32_t n = 1 + g() % 6;
        std::vector<double> id(n);
        std::vector<float> goal(2 * n, -1), ach(2 * n), next(2 * n), reward(n);
        std::vector<uint8_t> term(n), trunc(n);
        std::vector<uint32_t> env(n, w);
        for (uint32_t r = 0; r < n; ++r) {
          id[r] = next_id++;
          next[2 * r] = float(id[r]);
          next[2 * r + 1] = 1000;
          term[r] = g() % 10 == 0;
        }
        const void* cols[7] = {id.data(), goal.data(), ach.data(), next.data(), reward.data(), term.data(), trunc.data()};
        b.push(cols, n, nullptr, env.data());
      }
    });
  while (b.length() < 16) std::this_thread::yield();
  std::mt19937 g(8);
  HerBatch batch(16);
  for (int round = 0; round < 2000; ++round) {
    batch.sample(b, g);
    for (int i = 0; i < 16; ++i) {
      if (!batch.relabelled[i]) continue;
      const double gid = batch.goal[2 * i];
      CHECK(batch.goal[2 * i + 1] == 1000.0f);
      CHECK(std::floor(gid / 1e6) == std::floor(batch.id[i] / 1e6));
      CHECK(gid >= float(batch.id[i]));
    }
  }
  for (auto& t : ts) t.join();
}
