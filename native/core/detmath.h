// replaykit core: a power function that gives the same bits on every platform.
//
// Prioritized sampling sums p^alpha in the sum-tree, so the draws depend on those
// bits. libm's pow differs in the last place between C libraries (glibc, Apple,
// MSVC), which would let the same seed give different batches on different
// machines. det_pow uses only IEEE-754 basic operations (+, -, *, /, correctly
// rounded everywhere) and exact scalings (frexp, ldexp), evaluated in a fixed order,
// so it is bit-reproducible wherever the compiler does not contract a*b+c into a
// fused multiply-add (we build with -ffp-contract=off). Its relative error is below
// 1e-13 for results between 1e-60 and 1e60, far below what sampling can notice.
#pragma once
#include <cmath>

namespace replaykit {

// Natural logarithm of a finite x > 0.
inline double det_log(double x) {
  int e;
  double m = std::frexp(x, &e);  // x = m * 2^e, m in [0.5, 1)
  if (m < 0.70710678118654752440) {
    m *= 2;
    e -= 1;
  }
  // log(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.1716
  const double s = (m - 1) / (m + 1);
  const double s2 = s * s;
  double sum = 1.0 / 23;
  for (int k = 21; k >= 1; k -= 2) sum = sum * s2 + 1.0 / k;
  const double log_m = 2 * s * sum;
  constexpr double ln2_hi = 6.93147180369123816490e-01;  // high bits of ln 2, exact in k * ln2_hi
  constexpr double ln2_lo = 1.90821492927058770002e-10;
  return (e * ln2_hi + log_m) + e * ln2_lo;
}

// e^y for finite y.
inline double det_exp(double y) {
  if (y > 709.782712893384) return HUGE_VAL;
  if (y < -745.2) return 0.0;
  constexpr double inv_ln2 = 1.44269504088896338700e+00;
  constexpr double ln2_hi = 6.93147180369123816490e-01;
  constexpr double ln2_lo = 1.90821492927058770002e-10;
  const double k = std::floor(y * inv_ln2 + 0.5);
  const double r = (y - k * ln2_hi) - k * ln2_lo;  // |r| <= 0.35
  double sum = 1.0;
  for (int n = 17; n >= 1; --n) sum = 1.0 + sum * r / n;
  return std::ldexp(sum, static_cast<int>(k));
}

// x^a for finite x > 0 and finite a >= 0, bit-identical on every platform.
inline double det_pow(double x, double a) {
  if (a == 0.0 || x == 1.0) return 1.0;
  if (a == 1.0) return x;
  return det_exp(a * det_log(x));
}

}  // namespace replaykit
