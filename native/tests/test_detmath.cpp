#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>
#include <random>

#include "detmath.h"

using namespace replaykit;

TEST_CASE("det_pow agrees with libm pow to 1e-13 relative over the range replay uses") {
  std::mt19937_64 g(5);
  std::uniform_real_distribution<double> exponent(-300, 300), alpha(0, 2);
  double worst = 0;
  for (int i = 0; i < 200000; ++i) {
    const double x = std::pow(10.0, exponent(g) / 10);  // 1e-30 .. 1e30
    const double a = alpha(g);
    const double ref = std::pow(x, a);
    const double got = det_pow(x, a);
    worst = std::max(worst, std::fabs(got - ref) / ref);
  }
  CHECK(worst < 1e-13);  // the rounding of a * log(x) bounds it: about |a log x| * 2^-53
}

TEST_CASE("det_pow special cases are exact") {
  CHECK(det_pow(3.7, 0.0) == 1.0);
  CHECK(det_pow(3.7, 1.0) == 3.7);
  CHECK(det_pow(1.0, 0.6) == 1.0);
  CHECK(det_pow(4.0, 0.5) == doctest::Approx(2.0).epsilon(1e-15));
  CHECK(det_pow(1e-300, 0.5) == doctest::Approx(1e-150).epsilon(1e-14));
  CHECK(det_pow(5e-324, 1.5) == 0.0);             // underflows cleanly
  CHECK(std::isinf(det_pow(1e300, 3.0)));         // overflows cleanly
  CHECK(det_log(1.0) == 0.0);
  CHECK(det_exp(0.0) == 1.0);
}

TEST_CASE("det_frexp and det_ldexp are std::frexp and std::ldexp, bit for bit") {
  std::mt19937_64 g(9);
  for (int i = 0; i < 200000; ++i) {
    uint64_t bits = g() & ~(uint64_t(1) << 63);  // any positive double, subnormals included
    double x;
    std::memcpy(&x, &bits, sizeof x);
    if (!std::isfinite(x) || x == 0) continue;
    int e1 = 0, e2 = 0;
    const double m1 = std::frexp(x, &e1), m2 = det_frexp(x, &e2);
    REQUIRE(m1 == m2);
    REQUIRE(e1 == e2);
  }
  std::uniform_real_distribution<double> m(0.5, 2.0);
  for (int k = -1100; k <= 1100; ++k)
    for (int j = 0; j < 20; ++j) {
      const double x = m(g);
      const double a = std::ldexp(x, k), b = det_ldexp(x, k);
      REQUIRE(((a == b) || (std::isnan(a) && std::isnan(b))));
    }
}

TEST_CASE("det_pow_many is det_pow, bit for bit, special cases included") {
  std::mt19937_64 g(13);
  std::uniform_real_distribution<double> exponent(-3200, 3200), alpha(0, 2);
  std::vector<double> x;
  for (int i = 0; i < 4001; ++i) x.push_back(std::pow(10.0, exponent(g) / 10));
  x[5] = 1.0;
  x[6] = 5e-324;
  x[7] = 1e300;
  x[8] = 2.2250738585072014e-308;
  x[9] = 1.7976931348623157e308;
  for (double a : {0.0, 1.0, 0.6, 0.4, 1.5, 3.0, alpha(g), alpha(g)}) {
    std::vector<double> out(x.size());
    det_pow_many(x.data(), a, out.data(), x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = det_pow(x[i], a);
      REQUIRE(std::memcmp(&want, &out[i], sizeof want) == 0);
    }
  }
}

TEST_CASE("det_pow_many is det_pow bit for bit on any positive double, at every alignment and length") {
  // Random bit patterns (subnormals, huge values, infinity), values whose result is near
  // the normal range's ends (|a ln x| around 700), and x = 1; every length 0 .. 9 and
  // offsets into the array, in place and not.
  std::mt19937_64 g(17);
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<double> x;
  for (int i = 0; i < 300000; ++i) {
    const int kind = i % 4;
    double v;
    if (kind == 0) {
      uint64_t bits = g() & ~(uint64_t(1) << 63);
      std::memcpy(&v, &bits, sizeof v);
      if (std::isnan(v) || v == 0) v = 1.0;
    } else if (kind == 1) {
      v = std::exp((unit(g) * 2 - 1) * 720);  // a ln x near +-700 for a near 1
    } else if (kind == 2) {
      v = unit(g) * 4;
    } else {
      v = 1.0;
    }
    x.push_back(v);
  }
  for (double a : {0.4, 0.6, 0.999, 1.0001, 1.7}) {
    std::vector<double> out(x.size());
    det_pow_many(x.data(), a, out.data(), x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = det_pow(x[i], a);
      REQUIRE(std::memcmp(&want, &out[i], sizeof want) == 0);
    }
    for (size_t len = 0; len <= 9; ++len)
      for (size_t off = 0; off < 3; ++off) {
        std::vector<double> in(x.begin() + static_cast<long>(off * 97), x.begin() + static_cast<long>(off * 97 + len));
        std::vector<double> sep(len);
        det_pow_many(in.data(), a, sep.data(), len);
        det_pow_many(in.data(), a, in.data(), len);  // in place
        for (size_t k = 0; k < len; ++k) {
          const double want = det_pow(x[off * 97 + k], a);
          REQUIRE(std::memcmp(&want, &sep[k], sizeof want) == 0);
          REQUIRE(std::memcmp(&want, &in[k], sizeof want) == 0);
        }
      }
  }
}

TEST_CASE("the portable lockstep path (used where SSE2 is not) is det_pow bit for bit") {
  std::mt19937_64 g(23);
  std::vector<double> x(4000);
  for (size_t i = 0; i < x.size(); ++i) {
    uint64_t bits = g() & ~(uint64_t(1) << 63);
    std::memcpy(&x[i], &bits, sizeof bits);
    if (std::isnan(x[i]) || x[i] == 0 || i % 7 == 0) x[i] = std::exp((double(g() % 20000) / 10000 - 1) * 720);
    if (i % 11 == 0) x[i] = 1.0;
  }
  for (double a : {0.0, 1.0, 0.6, 1.3}) {
    double out[4];
    for (size_t i = 0; i + 4 <= x.size(); i += 4) {
      detail::pow_lanes<4>(x.data() + i, a, out);
      for (int k = 0; k < 4; ++k) {
        const double want = det_pow(x[i + size_t(k)], a);
        REQUIRE(std::memcmp(&want, &out[k], sizeof want) == 0);
      }
    }
  }
}
