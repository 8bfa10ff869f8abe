// Observations stored once (derived.h) against the un-deduplicated buffer: the same pushes into a
// plain buffer and into one that stores each frame once, the same random words, equal batches.
#include <doctest/doctest.h>

#include <cstring>
#include <random>
#include <thread>

#include <unistd.h>

#include "archive.h"
#include "buffer.h"
#include "derived.h"
#include "error.h"
#include "storage.h"

using namespace replaykit;

namespace {

constexpr size_t kFrame = 6;  // bytes of one frame: [2, 3] uint8

// obs [F, 2, 3] uint8, action int32, reward float32, nextObs like obs, terminated, truncated.
Schema user_schema(uint32_t F) {
  std::vector<uint64_t> shape = F > 1 ? std::vector<uint64_t>{F, 2, 3} : std::vector<uint64_t>{2, 3};
  return Schema({make_field("obs", Dtype::Uint8, shape), make_field("action", Dtype::Int32, {}),
                 make_field("reward", Dtype::Float32, {}), make_field("nextObs", Dtype::Uint8, shape),
                 make_field("terminated", Dtype::Bool, {}), make_field("truncated", Dtype::Bool, {})});
}

EpisodeOptions episodes(std::optional<NStep> nstep = std::nullopt) {
  EpisodeOptions o;
  o.terminated = 4;
  o.truncated = 5;
  o.reward = 2;
  o.next_obs = 3;
  o.nstep = nstep;
  return o;
}

DerivedOptions derived_options(uint32_t F, bool validate = false) {
  DerivedOptions o;
  o.user = user_schema(F);
  o.obs = 0;
  o.next = 3;
  o.frames = F;
  o.validate_next = validate;
  return o;
}

enum class Kind { Memory, Tiered, Mmap };

std::unique_ptr<Storage> make_storage(Schema s, uint64_t cap, Kind kind, const std::string& path) {
  if (kind == Kind::Memory) return std::make_unique<MemoryStorage>(std::move(s), cap);
  if (kind == Kind::Mmap) return std::make_unique<MmapStorage>(std::move(s), cap, path);
  return std::make_unique<TieredStorage>(std::move(s), cap, std::max<uint64_t>(1, cap / 3), path);
}

struct Pair {
  std::unique_ptr<ReplayBuffer> plain, dedup;
  uint32_t F;
};

Pair make_pair(uint32_t F, uint64_t cap, std::optional<PrioritizedOptions> per, std::optional<NStep> nstep = std::nullopt,
               Kind kind = Kind::Memory) {
  Pair p;
  p.F = F;
  p.plain = std::make_unique<ReplayBuffer>(std::make_unique<MemoryStorage>(user_schema(F), cap), per,
                                           nstep ? std::optional<EpisodeOptions>(episodes(nstep)) : std::nullopt);
  DerivedOptions o = derived_options(F);
  static int files = 0;
  const std::string path = "/tmp/replaykit-derived-test-" + std::to_string(::getpid()) + "-" + std::to_string(files++);
  p.dedup = std::make_unique<ReplayBuffer>(make_storage(stored_schema(o), cap, kind, path), per, episodes(nstep), o);
  return p;
}

// Stacks of frame ids, zero-padded before an episode's first frame.
struct Source {
  uint32_t F;
  explicit Source(uint32_t F) : F(F) {}
  static void frame(uint32_t id, uint8_t* out) {
    if (id == 0) {
      std::memset(out, 0, kFrame);
      return;
    }
    std::memcpy(out, &id, 4);
    out[4] = uint8_t(id * 7);
    out[5] = uint8_t(id >> 3);
  }
  void stack(const std::vector<uint32_t>& ids, int64_t newest, uint8_t* out) const {
    for (uint32_t j = 0; j < F; ++j) {
      const int64_t at = newest - int64_t(F - 1) + j;
      frame(at >= 0 ? ids[size_t(at)] : 0, out + j * kFrame);
    }
  }

  struct Batch {
    std::vector<uint8_t> obs, next, term, trunc;
    std::vector<int32_t> action;
    std::vector<float> reward;
    std::vector<uint32_t> env;
    const void* cols[6];
  };
};

// Streams of episodes on several envs: every frame has a fresh id; pushed stacks follow the
// zero-padding convention, as an agent with SB3's VecFrameStack would push them.
struct Episodes {
  std::mt19937 g;
  uint32_t F;
  std::vector<std::vector<uint32_t>> frames;  // per env: the current episode's frames
  uint32_t next_id = 1;
  Episodes(uint32_t seed, uint32_t F, uint32_t n_envs) : g(seed), F(F), frames(n_envs) {}
  Source::Batch make(uint64_t n, double end_p) {
    Source helper(F);
    Source::Batch b;
    const size_t sb = F * kFrame;
    b.obs.resize(n * sb);
    b.next.resize(n * sb);
    for (uint64_t r = 0; r < n; ++r) {
      const uint32_t e = uint32_t(g() % frames.size());
      auto& s = frames[e];
      if (s.empty()) s.push_back(next_id++);
      s.push_back(next_id++);
      const int64_t k = int64_t(s.size()) - 2;
      helper.stack(s, k, b.obs.data() + r * sb);
      helper.stack(s, k + 1, b.next.data() + r * sb);
      s.pop_back();  // the next obs frame is the next row's own (pushed again then)
      const bool ends = std::uniform_real_distribution<double>(0, 1)(g) < end_p;
      const bool term = ends && g() % 2;
      b.term.push_back(term);
      b.trunc.push_back(ends && !term);
      b.action.push_back(int32_t(g() % 5));
      b.reward.push_back(float(g() % 9) - 4.0f);
      b.env.push_back(e);
      if (ends) {
        s.clear();
      } else {
        // The next row's obs frame must be the nextObs frame given here: push it now.
        uint32_t id;
        std::memcpy(&id, b.next.data() + r * sb + (F - 1) * kFrame, 4);
        s.push_back(id);
      }
    }
    b.cols[0] = b.obs.data();
    b.cols[1] = b.action.data();
    b.cols[2] = b.reward.data();
    b.cols[3] = b.next.data();
    b.cols[4] = b.term.data();
    b.cols[5] = b.trunc.data();
    return b;
  }
};

struct Out {
  std::vector<uint8_t> obs, next, term, trunc;
  std::vector<int32_t> action;
  std::vector<float> reward, weights, discount;
  std::vector<uint64_t> keys;
  void* outs[6];
  Out(uint64_t n, uint32_t F)
      : obs(n * F * kFrame), next(n * F * kFrame), term(n), trunc(n), action(n), reward(n), weights(n), discount(n), keys(n) {
    outs[0] = obs.data();
    outs[1] = action.data();
    outs[2] = reward.data();
    outs[3] = next.data();
    outs[4] = term.data();
    outs[5] = trunc.data();
  }
  bool operator==(const Out& o) const {
    return obs == o.obs && next == o.next && term == o.term && trunc == o.trunc && action == o.action &&
           reward == o.reward && weights == o.weights && keys == o.keys && discount == o.discount;
  }
};

void push_both(Pair& p, Source::Batch& b, uint64_t n, const std::vector<double>* pr = nullptr) {
  const double* prio = pr ? pr->data() : nullptr;
  const uint64_t k1 = p.plain->push(b.cols, n, prio, p.plain->episodes() ? b.env.data() : nullptr);
  const uint64_t k2 = p.dedup->push(b.cols, n, prio, b.env.data());
  REQUIRE(k1 == k2);
}

void check_same(Pair& p, uint64_t n, uint32_t seed) {
  n = std::min<uint64_t>(n, p.plain->length());
  std::mt19937 g(seed);
  std::vector<uint32_t> words(2 * n);
  for (auto& w : words) w = g();
  Out a(n, p.F), b(n, p.F);
  const bool nstep = p.plain->episodes() != nullptr;
  p.plain->sample(n, words.data(), a.outs, a.keys.data(), a.weights.data(), 0.5, nstep ? a.discount.data() : nullptr);
  p.dedup->sample(n, words.data(), b.outs, b.keys.data(), b.weights.data(), 0.5, nstep ? b.discount.data() : nullptr);
  REQUIRE(a.obs == b.obs);
  REQUIRE(a.next == b.next);
  REQUIRE(a == b);
  // Reads by position agree too (epochs, readAll).
  std::vector<uint64_t> pos(p.plain->length());
  for (uint64_t i = 0; i < pos.size(); ++i) pos[i] = i;
  Out ra(pos.size(), p.F), rb(pos.size(), p.F);
  p.plain->read_positions(pos.data(), pos.size(), ra.outs, ra.keys.data());
  p.dedup->read_positions(pos.data(), pos.size(), rb.outs, rb.keys.data());
  REQUIRE(ra.obs == rb.obs);
  REQUIRE(ra.next == rb.next);
  REQUIRE(ra == rb);
}

}  // namespace

TEST_CASE("derived: the stored schema drops next and, stacked, the stack's leading dimension") {
  Schema s = stored_schema(derived_options(4));
  REQUIRE(s.size() == 5);
  CHECK(s[0].name == "obs");
  CHECK(s[0].shape == std::vector<uint64_t>{2, 3});
  CHECK(s[3].name == "terminated");
  DerivedOptions bad = derived_options(4);
  bad.frames = 3;  // the stack is 4 deep
  CHECK_THROWS_AS(stored_schema(bad), Error);
  bad = derived_options(1);
  bad.next = 1;  // action: another dtype and shape
  CHECK_THROWS_AS(stored_schema(bad), Error);
}

TEST_CASE("derived: batches equal the plain buffer's (FIFO, wrap-around, several envs, oversize pushes, clear)") {
  for (uint32_t F : {1u, 2u, 4u}) {
    for (uint64_t cap : {3ull, 17ull, 64ull}) {
      CAPTURE(F);
      CAPTURE(cap);
      Pair p = make_pair(F, cap, std::nullopt);
      Episodes src(F * 100 + uint32_t(cap), F, 3);
      std::mt19937 g{uint32_t(cap)};
      for (int round = 0; round < 60; ++round) {
        const uint64_t n = 1 + g() % (round % 10 == 9 ? 2 * cap : 7);
        Source::Batch b = src.make(n, 0.12);
        push_both(p, b, n);
        check_same(p, 8, uint32_t(round));
        if (round == 30) {
          p.plain->clear();
          p.dedup->clear();
          Source::Batch c = src.make(3, 0.12);  // open episodes go on after a clear
          push_both(p, c, 3);
          check_same(p, 2, 99);
        }
      }
      // Everything that is kept is read by someone: with every episode over and the buffer
      // overwritten by fresh episodes, the kept store is bounded.
      CHECK(p.dedup->derived()->kept_count() <= 3 * F + 3 * F * 2);
    }
  }
}

TEST_CASE("derived: prioritized, lowest-priority eviction with random priorities, and n-step") {
  for (uint32_t F : {1u, 4u}) {
    for (int nstep = 0; nstep < 2; ++nstep) {
      for (Eviction ev : {Eviction::Fifo, Eviction::LowestPriority}) {
        CAPTURE(F);
        CAPTURE(nstep);
        PrioritizedOptions per;
        per.eviction = ev;
        Pair p = make_pair(F, 23, per, nstep ? std::optional<NStep>(NStep{3, 0.9}) : std::nullopt);
        Episodes src(F + 7 * nstep, F, 2);
        std::mt19937 g(5);
        for (int round = 0; round < 80; ++round) {
          const uint64_t n = 1 + g() % 6;
          Source::Batch b = src.make(n, 0.1);
          std::vector<double> pr(n);
          for (auto& x : pr) x = 0.1 + double(g() % 100) / 10;
          push_both(p, b, n, &pr);
          check_same(p, 6, uint32_t(round));
        }
      }
    }
  }
}

TEST_CASE("derived: tiered and mmap storage give the same batches") {
  for (Kind kind : {Kind::Tiered, Kind::Mmap}) {
    Pair p = make_pair(4, 20, std::nullopt, std::nullopt, kind);
    Episodes src(3, 4, 2);
    for (int round = 0; round < 40; ++round) {
      Source::Batch b = src.make(1 + round % 5, 0.15);
      push_both(p, b, 1 + round % 5);
      check_same(p, 5, uint32_t(round));
    }
  }
}

TEST_CASE("derived: validate_next refuses a nextObs that is not the next obs, storing nothing") {
  DerivedOptions o = derived_options(2, true);
  ReplayBuffer b(std::make_unique<MemoryStorage>(stored_schema(o), 10), std::nullopt, episodes(), o);
  Episodes src(1, 2, 1);
  Source::Batch ok = src.make(4, 0.0);
  b.push(ok.cols, 4, nullptr, ok.env.data());
  Source::Batch bad = src.make(2, 0.0);
  bad.obs[2 * kFrame + kFrame - 1] ^= 1;  // row 1's obs: not row 0's nextObs
  CHECK_THROWS_AS(b.push(bad.cols, 2, nullptr, bad.env.data()), Error);
  CHECK(b.length() == 4);
  Source::Batch bad2 = src.make(1, 0.0);
  bad2.obs[kFrame] ^= 1;  // not the previous push's last nextObs
  CHECK_THROWS_AS(b.push(bad2.cols, 1, nullptr, bad2.env.data()), Error);
  CHECK(b.length() == 4);
}

TEST_CASE("derived: writers on threads and a sampler; every sampled stack is one transition's") {
  constexpr uint32_t F = 4;
  DerivedOptions o = derived_options(F);
  ReplayBuffer b(std::make_unique<MemoryStorage>(stored_schema(o), 64), std::nullopt, episodes(), o);
  std::vector<std::thread> writers;
  for (uint32_t t = 0; t < 2; ++t)
    writers.emplace_back([&b, t] {
      Episodes src(t + 1, F, 1);
      for (int i = 0; i < 300; ++i) {
        Source::Batch x = src.make(1 + i % 3, 0.05);
        for (auto& e : x.env) e = t;  // one stream per thread
        b.push(x.cols, 1 + i % 3, nullptr, x.env.data());
      }
    });
  std::mt19937 g(1);
  uint64_t checked = 0;
  while (checked < 2000) {
    if (b.length() < 8) {
      std::this_thread::yield();
      continue;
    }
    Out out(8, F);
    std::vector<uint32_t> words(16);
    for (auto& w : words) w = g();
    b.sample(8, words.data(), out.outs, out.keys.data(), nullptr);
    for (uint64_t i = 0; i < 8; ++i, ++checked) {
      // Each stack's frames are consecutive ids (or zeros before the episode's first), and
      // nextObs is obs shifted by one frame.
      const uint8_t* obs = out.obs.data() + i * F * kFrame;
      const uint8_t* next = out.next.data() + i * F * kFrame;
      REQUIRE(std::memcmp(obs + kFrame, next, (F - 1) * kFrame) == 0);
      uint32_t prev = 0;
      for (uint32_t j = 0; j < F; ++j) {
        uint32_t id;
        std::memcpy(&id, obs + j * kFrame, 4);
        if (prev && id) REQUIRE(id == prev + 1);
        if (prev) REQUIRE(id != 0);  // zeros only before the first frame
        prev = id;
      }
    }
    if (writers.size() == 2 && checked >= 2000) break;
  }
  for (auto& w : writers) w.join();
}

TEST_CASE("derived: a long random mix (F=3, 4 envs, PER with both evictions, n-step, oversize pushes, clears)") {
  for (Eviction ev : {Eviction::Fifo, Eviction::LowestPriority}) {
    PrioritizedOptions per;
    per.eviction = ev;
    Pair p = make_pair(3, 31, per, NStep{4, 0.95});
    Episodes src(77, 3, 4);
    std::mt19937 g{11u};
    for (int round = 0; round < 400; ++round) {
      const uint64_t n = 1 + g() % (round % 37 == 36 ? 70 : 5);
      Source::Batch b = src.make(n, 0.07);
      std::vector<double> pr(n);
      for (auto& x : pr) x = 0.05 + double(g() % 1000) / 100;
      push_both(p, b, n, &pr);
      if (round % 97 == 96) {
        p.plain->clear();
        p.dedup->clear();
        continue;
      }
      check_same(p, 7, uint32_t(round));
    }
    // Kept frames only while read: at most F per stored item's episode neighbourhood.
    CHECK(p.dedup->derived()->kept_count() <= 3 * p.dedup->length() + 4 * 3);
    CHECK(p.dedup->derived()->side_count() <= p.dedup->length());
  }
}

TEST_CASE("derived: the state an archive needs round-trips into a fresh Derived over the same rows and index") {
  PrioritizedOptions per;
  per.eviction = Eviction::LowestPriority;
  Pair p = make_pair(4, 29, per);
  Episodes src(5, 4, 3);
  std::mt19937 g{3u};
  for (int round = 0; round < 120; ++round) {
    const uint64_t n = 1 + g() % 5;
    Source::Batch b = src.make(n, 0.08);
    std::vector<double> pr(n);
    for (auto& x : pr) x = 0.05 + double(g() % 1000) / 100;
    push_both(p, b, n, &pr);
  }
  const Derived& d = *p.dedup->derived();
  REQUIRE(d.kept_count() > 0);  // evictions left frames that stored items read
  const std::vector<uint8_t> bytes = d.save();
  Derived fresh(d.options(), *p.dedup->episodes(), p.dedup->storage());
  fresh.restore(bytes.data(), bytes.size());
  CHECK(fresh.save() == bytes);
  // Every stored item's obs and nextObs, planned by both: the same frames.
  const uint64_t cap = p.dedup->capacity();
  std::vector<uint64_t> slots(cap);
  for (uint64_t s = 0; s < cap; ++s) slots[s] = s;
  FramePlan a, b;
  d.plan(slots.data(), slots.data(), cap, a);
  d.settle(a);
  fresh.plan(slots.data(), slots.data(), cap, b);
  fresh.settle(b);
  std::vector<uint8_t> ao(cap * 4 * kFrame), an(cap * 4 * kFrame), bo(cap * 4 * kFrame), bn(cap * 4 * kFrame);
  d.fill(a, ao.data(), an.data());
  fresh.fill(b, bo.data(), bn.data());
  CHECK(ao == bo);
  CHECK(an == bn);
  // Malformed bytes are Error(Archive), never a crash.
  for (uint64_t cut : {uint64_t(0), uint64_t(7), uint64_t(bytes.size() / 2), uint64_t(bytes.size() - 1)}) {
    Derived other(d.options(), *p.dedup->episodes(), p.dedup->storage());
    CHECK_THROWS_AS(other.restore(bytes.data(), cut), Error);
  }
}

// ---- archives of deduplicated buffers (archive.h, the Derived section) ----

namespace {

ArchiveMeta derived_meta() {
  ArchiveMeta m;
  m.rng_state[0] = 0x2468;
  m.seed = 3;
  return m;
}

// The same words into both buffers: the same batches (keys, weights, discounts, every field).
void same_batches(ReplayBuffer& a, ReplayBuffer& b, uint32_t F, uint64_t n, uint32_t seed, ReplayBuffer* c = nullptr) {
  REQUIRE(a.length() == b.length());
  n = std::min<uint64_t>(n, a.length());
  std::mt19937 g(seed);
  std::vector<uint32_t> words(2 * n);
  for (auto& w : words) w = g();
  Out x(n, F), y(n, F);
  a.sample(n, words.data(), x.outs, x.keys.data(), x.weights.data(), std::nullopt, x.discount.data());
  b.sample(n, words.data(), y.outs, y.keys.data(), y.weights.data(), std::nullopt, y.discount.data());
  REQUIRE(x.obs == y.obs);
  REQUIRE(x.next == y.next);
  REQUIRE(x == y);
  if (c) {
    Out z(n, F);
    c->sample(n, words.data(), z.outs, z.keys.data(), z.weights.data(), std::nullopt, z.discount.data());
    REQUIRE(z == x);
  }
}

// Saves p.dedup, loads it (memory or tiered storage), then: the same batches as the saved buffer,
// and both go on identically with the same pushes; the plain buffer agrees throughout.
void round_trip(Pair& p, Episodes& src, std::mt19937& g, bool tiered, bool priorities) {
  const std::vector<uint8_t> bytes = encode_archive(*p.dedup, derived_meta());
  const ArchiveView v = parse_archive(bytes.data(), bytes.size());
  REQUIRE(v.derived >= 0);
  CHECK(v.schema.size() == 6);
  CHECK(v.stored.size() == 5);
  static int files = 0;
  std::unique_ptr<Storage> storage;
  if (tiered)
    storage = std::make_unique<TieredStorage>(v.stored, v.header.capacity, 5,
                                              "/tmp/replaykit-derived-archive-" + std::to_string(::getpid()) + "-" + std::to_string(files++));
  std::unique_ptr<ReplayBuffer> loaded = make_buffer_for(v, std::move(storage));
  loaded->restore(v);
  CHECK(loaded->derived()->save() == p.dedup->derived()->save());
  CHECK(encode_archive(*loaded, derived_meta()) == bytes);
  for (int round = 0; round < 60; ++round) {
    same_batches(*p.plain, *p.dedup, p.F, 9, uint32_t(1000 + round), loaded.get());
    const uint64_t n = 1 + g() % (round % 17 == 16 ? 40 : 4);
    Source::Batch b = src.make(n, 0.06);
    std::vector<double> pr(n);
    for (auto& x : pr) x = 0.05 + double(g() % 1000) / 100;
    push_both(p, b, n, priorities ? &pr : nullptr);
    loaded->push(b.cols, n, priorities ? pr.data() : nullptr, b.env.data());
    same_batches(*p.plain, *p.dedup, p.F, 7, uint32_t(round), loaded.get());  // every buffer draws as often
  }
  same_batches(*p.plain, *p.dedup, p.F, 9, 77, loaded.get());
}

}  // namespace

TEST_CASE("derived archives: FIFO, wrapped, with kept frames and open episodes, round-trip exactly (memory and tiered)") {
  for (uint32_t F : {1u, 4u}) {
    for (bool tiered : {false, true}) {
      Pair p = make_pair(F, 29, std::nullopt);
      Episodes src(40 + F, F, 3);
      std::mt19937 g{9u};
      for (int round = 0; round < 90; ++round) {
        const uint64_t n = 1 + g() % (round % 23 == 22 ? 45 : 5);  // oversize pushes too
        Source::Batch b = src.make(n, 0.05);
        push_both(p, b, n);
      }
      REQUIRE(p.dedup->length() == 29);
      if (F > 1) REQUIRE(p.dedup->derived()->kept_count() > 0);  // the ring cut episodes other items read
      REQUIRE(p.dedup->derived()->side_count() > 0);              // open episodes' pending next observations
      round_trip(p, src, g, tiered, false);
    }
  }
}

TEST_CASE("derived archives: prioritized with lowest-priority eviction and n-step round-trip exactly") {
  PrioritizedOptions per;
  per.eviction = Eviction::LowestPriority;
  Pair p = make_pair(4, 31, per, NStep{3, 0.9});
  Episodes src(12, 4, 3);
  std::mt19937 g{21u};
  for (int round = 0; round < 150; ++round) {
    const uint64_t n = 1 + g() % 5;
    Source::Batch b = src.make(n, 0.07);
    std::vector<double> pr(n);
    for (auto& x : pr) x = 0.05 + double(g() % 1000) / 100;
    push_both(p, b, n, &pr);
  }
  REQUIRE(p.dedup->derived()->kept_count() > 0);  // evictions from the middle of episodes
  round_trip(p, src, g, false, true);
}

TEST_CASE("derived archives: lying sections are Error(Archive), the buffer left empty and still loadable") {
  Pair p = make_pair(4, 23, std::nullopt);
  Episodes src(3, 4, 2);
  std::mt19937 g{4u};
  for (int round = 0; round < 50; ++round) {
    const uint64_t n = 1 + g() % 4;
    Source::Batch b = src.make(n, 0.1);
    push_both(p, b, n);
  }
  const std::vector<uint8_t> good = encode_archive(*p.dedup, derived_meta());
  const ArchiveView gv = parse_archive(good.data(), good.size());
  const uint64_t at = gv.sections[gv.derived].offset;  // the record, then Derived::save()
  const uint64_t state = at + sizeof(DerivedRecord);
  const uint64_t cap = 23, deps = state + 4 + 4 + 8 + 8 + 8 + 8, sides = deps + 2 * cap;
  // Header fields the record holds, and the state's counts: each a lie restore must catch.
  auto restore_refused = [&](std::vector<uint8_t> bad) {
    const ArchiveView v = parse_archive(bad.data(), bad.size());  // the header's checksum does not cover sections
    std::unique_ptr<ReplayBuffer> b = make_buffer_for(v);
    CHECK_THROWS_WITH_AS(b->restore(v), doctest::Contains("derived-fields state"), Error);
    CHECK(b->length() == 0);
    b->restore(gv);  // left as made: the good archive still loads into it
    same_batches(*p.dedup, *b, 4, 8, 5);
  };
  {  // a reader count one too high
    std::vector<uint8_t> bad = good;
    uint64_t slot = 0;
    uint16_t d = 0;
    for (; slot < cap; ++slot) {
      std::memcpy(&d, bad.data() + deps + 2 * slot, 2);
      if (d < 3) break;
    }
    REQUIRE(slot < cap);
    ++d;
    std::memcpy(bad.data() + deps + 2 * slot, &d, 2);
    restore_refused(bad);
  }
  {  // the first side entry's final flag flipped
    std::vector<uint8_t> bad = good;
    uint64_t n_side;
    std::memcpy(&n_side, bad.data() + state + 24, 8);
    REQUIRE(n_side > 0);
    bad[sides + 8] ^= 1;
    restore_refused(bad);
  }
  {  // the first side entry moved to an empty slot... of a full buffer: another stored slot
    std::vector<uint8_t> bad = good;
    uint64_t slot;
    std::memcpy(&slot, bad.data() + sides, 8);
    slot = (slot + 1) % cap;
    std::memcpy(bad.data() + sides, &slot, 8);
    const ArchiveView v = parse_archive(bad.data(), bad.size());
    std::unique_ptr<ReplayBuffer> b = make_buffer_for(v);
    CHECK_THROWS_AS(b->restore(v), Error);
    CHECK(b->length() == 0);
  }
  {  // a wrong magic
    std::vector<uint8_t> bad = good;
    bad[state] ^= 0xFF;
    restore_refused(bad);
  }
  // Framing: parse_archive refuses these (the header checksum is fixed up after each lie).
  auto fix = [](std::vector<uint8_t>& a) {
    ArchiveHeader h;
    std::memcpy(&h, a.data(), sizeof h);
    const uint32_t crc = header_crc(a.data(), sizeof h + uint64_t(h.section_count) * sizeof(SectionEntry));
    std::memcpy(a.data() + offsetof(ArchiveHeader, header_crc), &crc, 4);
  };
  auto parse_refused = [&](std::vector<uint8_t> bad, const char* what) {
    fix(bad);
    CHECK_THROWS_WITH_AS(parse_archive(bad.data(), bad.size()), doctest::Contains(what), Error);
  };
  {  // the record's state size lies: its section's size disagrees
    std::vector<uint8_t> bad = good;
    uint64_t n;
    std::memcpy(&n, bad.data() + at + 16, 8);
    ++n;
    std::memcpy(bad.data() + at + 16, &n, 8);
    parse_refused(bad, "derived fields section's size");
  }
  {  // frames 2 for a stack of 4: no stored schema
    std::vector<uint8_t> bad = good;
    const uint32_t two = 2;
    std::memcpy(bad.data() + at + 8, &two, 4);
    parse_refused(bad, "derived fields");
  }
  {  // obs and next the same field
    std::vector<uint8_t> bad = good;
    const uint32_t zero = 0;
    std::memcpy(bad.data() + at + 4, &zero, 4);
    parse_refused(bad, "derived fields");
  }
  {  // unknown flags
    std::vector<uint8_t> bad = good;
    bad[at + 12] = 0x80;
    parse_refused(bad, "unknown derived fields flags");
  }
  // Kind mismatch: a plain buffer of the user schema refuses the archive, and a deduplicated
  // buffer refuses a plain buffer's archive.
  {
    const ArchiveView v = parse_archive(good.data(), good.size());
    ReplayBuffer plain(std::make_unique<MemoryStorage>(user_schema(4), cap), std::nullopt, episodes());
    CHECK_THROWS_AS(plain.restore(v), Error);
    const std::vector<uint8_t> pa = encode_archive(plain, derived_meta());
    const ArchiveView pv = parse_archive(pa.data(), pa.size());
    std::unique_ptr<ReplayBuffer> d = make_buffer_for(gv);
    CHECK_THROWS_AS(d->restore(pv), Error);
    CHECK(d->length() == 0);
  }
}
