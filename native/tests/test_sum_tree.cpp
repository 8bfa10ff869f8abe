#include <doctest/doctest.h>

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
