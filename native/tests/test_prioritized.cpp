#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <random>
#include <vector>

#include "detmath.h"
#include "sampler.h"

#include "helpers.h"

using namespace rk_test;

namespace {
PrioritizedOptions per(double alpha, Eviction e = Eviction::Fifo, double epsilon = 1e-6) {
  PrioritizedOptions o;
  o.alpha = alpha;
  o.eviction = e;
  o.epsilon = epsilon;
  return o;
}
}  // namespace

TEST_CASE("sample frequencies match P(i) = p^alpha / sum p^alpha (chi-square)") {
  const uint64_t n_items = 8;
  const double alpha = 0.7;
  auto b = make_buffer(n_items, per(alpha));
  Rows rows(0, n_items);
  std::vector<double> p = {0.5, 1, 2, 4, 0.1, 3, 1.5, 8};
  b->push(rows.cols, n_items, p.data());
  double z = 0;
  for (double x : p) z += std::pow(x, alpha);
  CHECK(b->total_priority() == doctest::Approx(z).epsilon(1e-12));

  std::vector<double> counts(n_items, 0);
  const uint64_t batch = 8, rounds = 8000;
  Batch out = sample_rounds(*b, batch, rounds, 1);
  for (uint64_t i = 0; i < batch * rounds; ++i) {
    CHECK(out.consistent(i));
    counts[uint64_t(out.id[i])] += 1;
  }
  double chi2 = 0;
  const double total = double(batch * rounds);
  for (uint64_t i = 0; i < n_items; ++i) {
    const double expected = total * std::pow(p[i], alpha) / z;
    chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
  }
  CHECK(chi2 < 24.32);  // chi-square, 7 degrees of freedom, p = 0.001
}

TEST_CASE("importance-sampling weights follow the formula, normalised by the buffer's max weight") {
  const double alpha = 0.6, beta = 0.4;
  auto b = make_buffer(10, per(alpha));
  Rows rows(0, 6);
  std::vector<double> p = {0.3, 2, 5, 1, 0.7, 9};
  b->push(rows.cols, 6, p.data());
  Batch out = sample_rounds(*b, 6, 11, 9, beta);
  double z = 0;
  for (double x : p) z += std::pow(x, alpha);
  double max_w = 0;
  for (double x : p) max_w = std::max(max_w, std::pow(6 * std::pow(x, alpha) / z, -beta));
  for (uint64_t i = 0; i < 66; ++i) {
    const double pi = p[uint64_t(out.id[i])];
    const double expected = std::pow(6 * std::pow(pi, alpha) / z, -beta) / max_w;
    CHECK(out.weights[i] == doctest::Approx(expected).epsilon(1e-6));
    CHECK(out.weights[i] <= 1.0f);
    CHECK(out.weights[i] > 0.0f);
  }
}

TEST_CASE("new items get the largest priority seen so far") {
  auto b = make_buffer(10, per(1.0, Eviction::Fifo, 0.5));
  Rows a(0, 1);
  b->push(a.cols, 1, nullptr);
  CHECK(b->priority_of_slot(0) == 1.0);
  double deltas[1] = {6.5};
  uint64_t keys[1] = {0};
  CHECK(b->update_priorities(keys, 1, deltas) == 1);
  CHECK(b->priority_of_slot(0) == 7.0);
  CHECK(b->max_priority() == 7.0);
  Rows c(1, 1);
  b->push(c.cols, 1, nullptr);
  CHECK(b->priority_of_slot(1) == 7.0);
  CHECK(b->min_priority() == 7.0);
  CHECK(b->total_priority() == 14.0);
}

TEST_CASE("updates for overwritten items are ignored; unknown keys and NaN throw and apply nothing") {
  auto b = make_buffer(2, per(1.0, Eviction::Fifo, 1.0));
  Rows rows(0, 3);  // id 0 (key 0) is overwritten by id 2 (key 2)
  b->push(rows.cols, 3, nullptr);
  uint64_t keys[3] = {0, 1, 2};
  float deltas[3] = {5, 6, 7};
  CHECK(b->update_priorities(keys, 3, deltas) == 2);
  CHECK(b->priority_of_slot(0) == 8.0);  // id 2 got 7 + 1, not id 0's 5 + 1
  CHECK(b->priority_of_slot(1) == 7.0);
  const auto before = state_of(*b);
  uint64_t bad_keys[2] = {1, 99};
  float ok_deltas[2] = {1, 1};
  CHECK_THROWS_AS(b->update_priorities(bad_keys, 2, ok_deltas), Error);
  uint64_t good_keys[2] = {1, 2};
  float nan_deltas[2] = {1, NAN};
  CHECK_THROWS_AS(b->update_priorities(good_keys, 2, nan_deltas), Error);
  double inf_deltas[2] = {1, INFINITY};
  CHECK_THROWS_AS(b->update_priorities(good_keys, 2, inf_deltas), Error);
  CHECK(state_of(*b) == before);
}

TEST_CASE("explicit priorities must be finite and positive; a rejected batch stores nothing") {
  auto b = make_buffer(4, per(0.5));
  Rows rows(0, 3);
  b->push(rows.cols, 1, nullptr);
  const auto before = state_of(*b);
  for (double bad : {-1.0, 0.0, double(NAN), double(INFINITY)}) {
    std::vector<double> p = {1.0, bad, 2.0};
    try {
      b->push(rows.cols, 3, p.data());
      FAIL("no throw");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::Range);
    }
    CHECK(state_of(*b) == before);
  }
}

TEST_CASE("lowest-priority eviction replaces the item of smallest priority") {
  auto b = make_buffer(3, per(0.6, Eviction::LowestPriority));
  Rows rows(0, 3);
  std::vector<double> p = {5, 1, 3};
  b->push(rows.cols, 3, p.data());
  Rows next(3, 1);
  double p4 = 4;
  b->push(next.cols, 1, &p4);  // evicts id 1 (priority 1)
  std::vector<uint64_t> keys(3);
  std::vector<double> pr(3);
  b->top(3, keys.data(), pr.data());
  CHECK(pr == std::vector<double>{5, 4, 3});
  Batch out(3);
  b->read(keys.data(), 3, out.outs);
  CHECK(out.id == std::vector<double>{0, 3, 2});
  // A batch evicts row by row, just as a loop of pushes does.
  auto looped = make_buffer(3, per(0.6, Eviction::LowestPriority));
  looped->push(rows.cols, 3, p.data());
  looped->push(next.cols, 1, &p4);
  Rows more(10, 4);
  std::vector<double> pm = {0.5, 6, 2, 3.5};
  b->push(more.cols, 4, pm.data());
  for (uint64_t r = 0; r < 4; ++r) {
    Rows one(10 + double(r), 1);
    looped->push(one.cols, 1, &pm[r]);
  }
  CHECK(state_of(*b) == state_of(*looped));
}

TEST_CASE("top(k) gives the highest priorities, highest first, ties by slot") {
  auto b = make_buffer(6, per(0.6));
  Rows rows(0, 6);
  std::vector<double> p = {2, 9, 2, 0.5, 9, 1};
  b->push(rows.cols, 6, p.data());
  std::vector<uint64_t> keys(4);
  std::vector<double> pr(4);
  b->top(4, keys.data(), pr.data());
  CHECK(keys == std::vector<uint64_t>{1, 4, 0, 2});
  CHECK(pr == std::vector<double>{9, 9, 2, 2});
  CHECK_THROWS_AS(b->top(7, keys.data(), pr.data()), Error);
}

TEST_CASE("a batch push with priorities equals a loop of pushes under FIFO") {
  auto batched = make_buffer(4, per(0.8)), looped = make_buffer(4, per(0.8));
  Rows rows(0, 9);
  std::vector<double> p = {1, 2, 3, 4, 50, 6, 7, 8, 9};  // 50 is overwritten but raises the max
  batched->push(rows.cols, 9, p.data());
  for (uint64_t r = 0; r < 9; ++r) {
    Rows one(double(r), 1);
    looped->push(one.cols, 1, &p[r]);
  }
  CHECK(state_of(*batched) == state_of(*looped));
  CHECK(batched->max_priority() == 50);
}

TEST_CASE("clear resets priorities and the running maximum") {
  auto b = make_buffer(4, per(0.6));
  Rows rows(0, 2);
  std::vector<double> p = {3, 7};
  b->push(rows.cols, 2, p.data());
  b->clear();
  CHECK(b->length() == 0);
  CHECK(b->total_priority() == 0);
  CHECK(b->max_priority() == 1);
  CHECK(std::isinf(b->min_priority()));
}

TEST_CASE("alpha 0 is uniform and all weights are 1") {
  auto b = make_buffer(5, per(0.0));
  Rows rows(0, 5);
  std::vector<double> p = {1, 100, 0.01, 5, 3};
  b->push(rows.cols, 5, p.data());
  Batch out = sample_rounds(*b, 5, 20, 4, 1.0);
  std::map<double, int> counts;
  for (uint64_t i = 0; i < 100; ++i) {
    counts[out.id[i]]++;
    CHECK(out.weights[i] == 1.0f);
  }
  for (auto& kv : counts) CHECK(kv.second == 20);  // stratified: each batch of 5 takes each equal-mass item once
}

TEST_CASE("set_priorities equals a loop of set_priority, and both sample the same") {
  std::mt19937_64 g(4);
  std::uniform_real_distribution<double> u(1e-3, 50.0);
  for (uint64_t cap : {1ull, 9ull, 1000ull, 5000ull}) {
    PrioritizedSampler a(cap, 0.6), b(cap, 0.6);
    for (int round = 0; round < 30; ++round) {
      const uint64_t n = 1 + g() % 400;
      std::vector<uint64_t> slots(n);
      std::vector<double> p(n);
      for (uint64_t k = 0; k < n; ++k) {
        slots[k] = g() % cap;
        p[k] = u(g);
      }
      for (uint64_t k = 0; k < n; ++k) a.set_priority(slots[k], p[k]);
      b.set_priorities(slots.data(), p.data(), n);
      REQUIRE(a.total() == b.total());
      REQUIRE(a.min_priority() == b.min_priority());
      REQUIRE(a.max_priority() == b.max_priority());
      REQUIRE(a.lowest_slot() == b.lowest_slot());
      const uint64_t m = 64;
      auto w = words(m, uint32_t(round));
      std::vector<uint64_t> sa(m), sb(m);
      std::vector<float> wa(m), wb(m);
      a.sample(cap, m, w.data(), sa.data(), wa.data(), 0.5);
      b.sample(cap, m, w.data(), sb.data(), wb.data(), 0.5);
      CHECK(sa == sb);
      CHECK(wa == wb);
    }
    for (uint64_t s = 0; s < cap; ++s) CHECK(a.priority(s) == b.priority(s));
  }
}

TEST_CASE("weights are det_pow of the formula bit for bit (the batched pow changes nothing)") {
  PrioritizedSampler s(100, 0.7);
  for (uint64_t i = 0; i < 100; ++i) s.set_priority(i, 0.05 + double((i * 37) % 100) / 7.0);
  auto w = words(64, 77);
  std::vector<uint64_t> slots(64);
  std::vector<float> weights(64);
  s.sample(100, 64, w.data(), slots.data(), weights.data(), 0.45);
  const double min_mass = det_pow(s.min_priority(), 0.7);
  for (int i = 0; i < 64; ++i) {
    const double want = std::min(det_pow(min_mass / det_pow(s.priority(slots[i]), 0.7), 0.45), 1.0);
    CHECK(weights[i] == static_cast<float>(want));
  }
}

TEST_CASE("a priority whose p^alpha overflows or underflows is refused, never stored") {
  auto b = make_buffer(4, per(50.0));
  Rows rows(0, 2);
  std::vector<double> huge = {1.0, 1e300};
  CHECK_THROWS_AS(b->push(rows.cols, 2, huge.data()), Error);
  std::vector<double> tiny = {1e-300, 1.0};
  CHECK_THROWS_AS(b->push(rows.cols, 2, tiny.data()), Error);
  CHECK(b->length() == 0);
  b->push(rows.cols, 1, nullptr);
  uint64_t key = 0;
  double delta = 1e200;
  CHECK_THROWS_AS(b->update_priorities(&key, 1, &delta), Error);
  CHECK(b->priority_of_slot(0) == 1.0);
}

// ---- the prioritized state in one place: schedule, epsilon, overflow, the weight floor ----

TEST_CASE("beta follows start + (end - start) * min(1, draws / frames), one draw per sample, bit for bit") {
  PrioritizedOptions o = per(0.6);
  o.beta = BetaSchedule{0.4, 1.0, 10};
  auto b = make_buffer(16, o);
  Rows rows(0, 16);
  b->push(rows.cols, 16, nullptr);
  const PrioritizedSampler& s = *b->prioritized_sampler();
  for (uint64_t k = 0; k < 14; ++k) {
    const double frames = 10;  // the facade's former expression, evaluated the same way
    const double want = 0.4 + (1.0 - 0.4) * std::min(1.0, double(k) / frames);
    CHECK(s.draws() == k);
    CHECK(s.beta() == want);
    Batch out(4);
    auto w = words(4, uint32_t(k));
    if (k == 3)
      b->sample(4, w.data(), out.outs, out.keys.data(), out.weights.data(), 0.0);  // an override still advances
    else
      b->sample(4, w.data(), out.outs, out.keys.data(), out.weights.data());
  }
  CHECK(s.beta() == 1.0);
  b->clear();  // the schedule keeps its progress, as it always has
  CHECK(s.draws() == 14);
}

TEST_CASE("a sample that fails does not advance the schedule; weights use the schedule's beta") {
  PrioritizedOptions o = per(1.0);
  o.beta = BetaSchedule{0.5, 0.5, 100};
  auto b = make_buffer(8, o);
  Rows rows(0, 2);
  std::vector<double> p = {1.0, 4.0};
  b->push(rows.cols, 2, p.data());
  Batch out(3);
  auto w = words(3, 1);
  CHECK_THROWS_AS(b->sample(3, w.data(), out.outs, out.keys.data(), out.weights.data()), Error);
  CHECK(b->prioritized_sampler()->draws() == 0);
  Batch two(2);
  b->sample(2, w.data(), two.outs, two.keys.data(), two.weights.data());
  for (int i = 0; i < 2; ++i)  // w = (min p / p)^beta with alpha 1
    CHECK(two.weights[i] == static_cast<float>(det_pow(1.0 / p[size_t(two.id[i])], 0.5)));
}

TEST_CASE("prioritized options out of range are refused by the sampler") {
  auto refuses = [](PrioritizedOptions o) {
    try {
      make_buffer(4, o);
      return false;
    } catch (const Error& e) {
      return e.kind() == ErrorKind::Range;
    }
  };
  PrioritizedOptions o = per(0.6);
  o.epsilon = 0;
  CHECK(refuses(o));
  o = per(0.6);
  o.beta.frames = 0;
  CHECK(refuses(o));
  o.beta.frames = (uint64_t(1) << 53) + 1;
  CHECK(refuses(o));
  o = per(0.6);
  o.beta.start = -1;
  CHECK(refuses(o));
  o = per(0.6);
  o.beta.end = NAN;
  CHECK(refuses(o));
  CHECK(refuses(per(-0.5)));
  CHECK(refuses(per(INFINITY)));
}

TEST_CASE("updates that would make the total priority overflow are refused and change nothing (issue 12, item 11)") {
  auto b = make_buffer(4, per(1.0));
  Rows rows(0, 2);
  b->push(rows.cols, 2, nullptr);
  const auto before = state_of(*b);
  uint64_t keys[2] = {0, 1};
  double deltas[2] = {1e308, 1e308};
  try {
    b->update_priorities(keys, 2, deltas);
    FAIL("no throw");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::Range);
  }
  CHECK(state_of(*b) == before);
  CHECK(b->max_priority() == 1.0);
  // One alone fits: then a push at the running maximum (1e308) would overflow, and is refused.
  CHECK(b->update_priorities(keys, 1, deltas) == 1);
  CHECK(std::isfinite(b->total_priority()));
  const auto after_one = state_of(*b);
  Rows more(10, 1);
  CHECK_THROWS_AS(b->push(more.cols, 1, nullptr), Error);
  CHECK(state_of(*b) == after_one);
  CHECK(b->length() == 2);
  std::vector<double> big = {1e308};
  CHECK_THROWS_AS(b->push(more.cols, 1, big.data()), Error);
  CHECK(state_of(*b) == after_one);
  // Sampling still spreads over both items, not collapsing onto one.
  Batch out(2);
  auto w = words(2, 5);
  b->sample(2, w.data(), out.outs, out.keys.data(), out.weights.data());
  CHECK(std::isfinite(b->total_priority()));
}

TEST_CASE("lowest-priority pushes that would overflow are refused, every evicted item kept") {
  auto b = make_buffer(2, per(1.0, Eviction::LowestPriority));
  Rows rows(0, 2);
  std::vector<double> p = {1e308, 1.0};
  b->push(rows.cols, 2, p.data());
  const auto before = state_of(*b);
  const uint64_t inserted = b->writer().inserted_count();
  Rows more(5, 2);
  std::vector<double> q = {2.0, 1e308};  // the second row would evict the 2 and sum to 2e308
  CHECK_THROWS_AS(b->push(more.cols, 2, q.data()), Error);
  CHECK(state_of(*b) == before);
  CHECK(b->writer().inserted_count() == inserted);
  CHECK(b->max_priority() == 1e308);
  std::vector<double> ok = {3.0, 0.5};
  b->push(more.cols, 2, ok.data());  // usable afterwards: each row evicts the lowest in turn
  CHECK(b->priority_of_slot(1) == 0.5);
}

TEST_CASE("a weight that underflows float32 is the smallest positive float32, not 0 (issue 12, item 12)") {
  auto b = make_buffer(2, per(1.0));
  Rows rows(0, 2);
  std::vector<double> p = {1e-300, 1e300};
  b->push(rows.cols, 2, p.data());
  for (uint32_t seed = 0; seed < 20; ++seed) {
    Batch out(2);
    auto w = words(2, seed);
    b->sample(2, w.data(), out.outs, out.keys.data(), out.weights.data(), 1.0);
    for (int i = 0; i < 2; ++i) {
      CHECK(out.weights[i] > 0.0f);
      CHECK(out.weights[i] <= 1.0f);
      if (out.id[i] == 1) CHECK(out.weights[i] == std::numeric_limits<float>::denorm_min());
    }
  }
}

TEST_CASE("update_priorities uses the buffer's epsilon") {
  auto b = make_buffer(4, per(1.0, Eviction::Fifo, 0.25));
  Rows rows(0, 1);
  b->push(rows.cols, 1, nullptr);
  uint64_t key = 0;
  float delta = -2.0f;
  b->update_priorities(&key, 1, &delta);
  CHECK(b->priority_of_slot(0) == 2.25);
}
