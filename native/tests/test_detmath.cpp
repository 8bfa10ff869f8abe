#include <doctest/doctest.h>

#include <cmath>
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
