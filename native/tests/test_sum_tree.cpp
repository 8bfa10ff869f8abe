#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "sum_tree.h"

using namespace replaykit;

TEST_CASE("sum-tree total and find agree with a linear scan") {
  std::mt19937_64 g(3);
  std::uniform_real_distribution<double> u(0.0, 5.0);
  for (uint64_t cap : {1ull, 2ull, 3ull, 7ull, 64ull, 1000ull}) {
    SumTree t(cap);
    std::vector<double> v(cap);
    for (uint64_t i = 0; i < cap; ++i) t.set(i, v[i] = (i % 4 == 1) ? 0.0 : u(g));
    double total = 0;
    for (double x : v) total += x;
    CHECK(t.total() == doctest::Approx(total).epsilon(1e-12));
    for (int trial = 0; trial < 200; ++trial) {
      double mass = std::uniform_real_distribution<double>(0.0, total)(g);
      uint64_t idx = t.find(mass);
      REQUIRE(idx < cap);
      CHECK(v[idx] > 0.0);
      double before = 0;
      for (uint64_t i = 0; i < idx; ++i) before += v[i];
      CHECK(before <= mass + 1e-9);
      CHECK(mass < before + v[idx] + 1e-9);
    }
  }
}

TEST_CASE("sum-tree never lands on a zero leaf, even at the very top of the mass") {
  SumTree t(10);
  t.set(2, 0.1);
  t.set(3, 0.2);
  t.set(7, 0.3);  // leaves 8, 9 and everything past capacity are zero
  const double top = std::nextafter(t.total(), 0.0);
  CHECK(t.find(top) == 7);
  CHECK(t.find(t.total()) == 7);  // even an out-of-range mass stays on a positive leaf
  CHECK(t.find(0.0) == 2);
  CHECK(t.find(0.1) == 3);
}

TEST_CASE("sum-tree does not drift after millions of updates") {
  const uint64_t cap = 1 << 12;
  SumTree t(cap);
  std::mt19937_64 g(11);
  std::uniform_real_distribution<double> u(1e-6, 1e3);
  std::vector<double> v(cap, 0.0);
  for (int step = 0; step < 2'000'000; ++step) {
    uint64_t i = g() % cap;
    v[i] = (step % 17 == 0) ? 0.0 : u(g);
    t.set(i, v[i]);
  }
  long double exact = 0;
  for (double x : v) exact += x;
  CHECK(std::fabs(double(exact) - t.total()) <= 1e-9 * double(exact));
  // Zero leaves are never drawn across the whole range of mass.
  for (int k = 0; k < 100000; ++k) {
    double mass = (double(k) + 0.5) / 100000.0 * t.total();
    CHECK(v[t.find(mass)] > 0.0);
  }
}

TEST_CASE("min-tree min and argmin") {
  MinTree m(5);
  CHECK(std::isinf(m.min()));
  m.set(3, 2.0);
  m.set(1, 2.0);
  m.set(4, 5.0);
  CHECK(m.min() == 2.0);
  CHECK(m.argmin() == 1);  // leftmost of the ties
  m.set(1, 9.0);
  CHECK(m.argmin() == 3);
  m.reset(3);
  CHECK(m.min() == 5.0);
  CHECK(m.argmin() == 4);
  m.clear();
  CHECK(std::isinf(m.min()));
}

// --- the cache-line layout: the same semantics as a binary tree -----------------------

namespace {
const uint64_t kShapes[] = {1, 2, 7, 8, 9, 63, 64, 65, 511, 512, 513, 4097, 70000};
}

TEST_CASE("with exact sums, find is exactly the prefix-sum rule at every capacity") {
  // Small integer leaves: every partial sum is exact, so the answer must be exactly the
  // leaf where the running sum first exceeds the mass, boundaries included.
  std::mt19937_64 g(21);
  for (uint64_t cap : kShapes) {
    SumTree t(cap);
    std::vector<double> v(cap);
    for (uint64_t i = 0; i < cap; ++i) t.set(i, v[i] = double(g() % 4));  // a quarter are zero
    std::vector<double> prefix(cap + 1, 0.0);
    for (uint64_t i = 0; i < cap; ++i) prefix[i + 1] = prefix[i] + v[i];
    REQUIRE(t.total() == prefix[cap]);
    if (t.total() == 0) continue;
    std::vector<double> masses;
    for (uint64_t i = 0; i < cap && masses.size() < 3000; ++i)
      if (v[i] > 0) masses.insert(masses.end(), {prefix[i], prefix[i] + 0.5, std::nextafter(prefix[i + 1], 0.0)});
    std::vector<uint64_t> many(masses.size());
    t.find_many(masses.data(), masses.size(), many.data());
    for (size_t k = 0; k < masses.size(); ++k) {
      const uint64_t want = uint64_t(std::upper_bound(prefix.begin() + 1, prefix.end(), masses[k]) - prefix.begin() - 1);
      CHECK(t.find(masses[k]) == want);
      CHECK(many[k] == want);
      CHECK(v[want] > 0);
    }
  }
}

TEST_CASE("find_many equals find, and a mass at or past the total stays on the last positive leaf") {
  std::mt19937_64 g(8);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (uint64_t cap : kShapes) {
    SumTree t(cap);
    uint64_t last_positive = 0;
    for (uint64_t i = 0; i < cap; ++i) {
      const double x = (i % 5 == 3) ? 0.0 : u(g) * 1e3;
      t.set(i, x);
      if (x > 0) last_positive = i;
    }
    if (!(t.total() > 0)) continue;
    std::vector<double> masses;
    for (int k = 0; k < 1000; ++k) masses.push_back(u(g) * t.total());
    masses.push_back(t.total());
    masses.push_back(std::nextafter(t.total(), 0.0));
    masses.push_back(t.total() * 2);
    std::vector<uint64_t> many(masses.size());
    t.find_many(masses.data(), masses.size(), many.data());
    for (size_t k = 0; k < masses.size(); ++k) {
      CHECK(many[k] == t.find(masses[k]));
      CHECK(t.get(many[k]) > 0.0);
    }
    CHECK(t.find(t.total()) == last_positive);
    CHECK(t.find(t.total() * 2) == last_positive);
  }
}

TEST_CASE("set_many leaves the same tree as a loop of set, repeats included (last wins)") {
  std::mt19937_64 g(5);
  std::uniform_real_distribution<double> u(0.0, 10.0);
  for (uint64_t cap : kShapes) {
    SumTree a(cap), b(cap);
    MinTree ma(cap), mb(cap);
    for (int round = 0; round < 20; ++round) {
      const uint64_t n = 1 + g() % (round % 2 ? 300 : 2 * cap);
      std::vector<uint64_t> idx(n);
      std::vector<double> val(n);
      const uint64_t run = g() % cap;  // half the rounds: a contiguous run, as FIFO pushes write
      for (uint64_t k = 0; k < n; ++k) {
        idx[k] = round % 2 ? g() % cap : (run + k) % cap;
        val[k] = (g() % 7 == 0) ? 0.0 : u(g);
      }
      for (uint64_t k = 0; k < n; ++k) {
        a.set(idx[k], val[k]);
        ma.set(idx[k], val[k] + 1);
      }
      b.set_many(idx.data(), val.data(), n);
      std::vector<double> plus(val);
      for (double& x : plus) x += 1;
      mb.set_many(idx.data(), plus.data(), n);
      REQUIRE(a.total() == b.total());  // bit for bit: parents are a pure function of the leaves
      REQUIRE(ma.min() == mb.min());
      REQUIRE(ma.argmin() == mb.argmin());
    }
    for (uint64_t i = 0; i < cap; ++i) {
      CHECK(a.get(i) == b.get(i));
      CHECK(ma.get(i) == mb.get(i));
    }
    for (int k = 0; k < 200 && a.total() > 0; ++k) {
      const double mass = u(g) / 10.0 * a.total();
      CHECK(a.find(mass) == b.find(mass));
    }
  }
}

TEST_CASE("batched updates do not drift either, and never expose a zero leaf") {
  const uint64_t cap = 100000;
  SumTree t(cap);
  std::mt19937_64 g(17);
  std::uniform_real_distribution<double> u(1e-6, 1e3);
  std::vector<double> v(cap, 0.0);
  std::vector<uint64_t> idx(256);
  std::vector<double> val(256);
  for (int step = 0; step < 8000; ++step) {  // 2,048,000 updates in batches of 256
    for (int k = 0; k < 256; ++k) {
      idx[k] = g() % cap;
      val[k] = (g() % 13 == 0) ? 0.0 : u(g);
    }
    t.set_many(idx.data(), val.data(), 256);
    for (int k = 0; k < 256; ++k) v[idx[k]] = val[k];
  }
  long double exact = 0;
  for (double x : v) exact += x;
  CHECK(std::fabs(double(exact) - t.total()) <= 1e-9 * double(exact));
  std::vector<double> masses(100000);
  for (int k = 0; k < 100000; ++k) masses[k] = (double(k) + 0.5) / 100000.0 * t.total();
  std::vector<uint64_t> got(masses.size());
  t.find_many(masses.data(), masses.size(), got.data());
  for (uint64_t i : got) CHECK(v[i] > 0.0);
}

TEST_CASE("min-tree argmin is the leftmost minimum across lines and levels") {
  MinTree m(1000);
  m.set(900, 0.5);
  m.set(3, 0.5);
  m.set(517, 0.7);
  CHECK(m.argmin() == 3);
  m.set(3, 2.0);
  CHECK(m.argmin() == 900);
  m.set(64, 0.5);
  CHECK(m.argmin() == 64);
  m.reset(64);
  m.reset(900);
  CHECK(m.min() == 0.7);
  CHECK(m.argmin() == 517);
  m.prefetch(999);  // a hint only
  CHECK(m.min() == 0.7);
}

TEST_CASE("a descent step gives the same child and the same remaining mass, vector code or portable") {
  // Lines with zeros, equal values, tiny and huge sums; masses inside, at every running sum
  // (the boundaries), just below them, and at or past the line's total (the fallback).
  std::mt19937_64 g(31);
  std::uniform_real_distribution<double> u(0, 1);
  alignas(64) double line[8];
  for (int trial = 0; trial < 200000; ++trial) {
    const int kind = trial % 5;
    for (double& c : line) {
      const double r = u(g);
      c = kind == 0 ? (r < 0.5 ? 0.0 : r) : kind == 1 ? 0.25 : kind == 2 ? r * 1e-300 : kind == 3 ? r * 1e300 : r;
    }
    if (trial % 97 == 0) std::fill(line, line + 8, 0.0);
    double total = 0, running[8];
    for (int k = 0; k < 8; ++k) running[k] = total += line[k];
    const double pick = running[g() % 8];
    const double masses[] = {u(g) * total, pick, std::nextafter(pick, 0.0), total, total * 1.5, 0.0};
    for (double m : masses) {
      double a = m, b = m;
      const unsigned ca = detail::choose_child_for_test(line, &a, true);
      const unsigned cb = detail::choose_child_for_test(line, &b, false);
      REQUIRE(ca == cb);
      REQUIRE(std::memcmp(&a, &b, sizeof a) == 0);
      REQUIRE(ca < 8);
      if (total > 0) {
        REQUIRE(line[ca] > 0.0);  // never a child of sum 0 while some child is positive
        REQUIRE(a >= 0.0);
      }
    }
  }
}
