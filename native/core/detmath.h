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
//
// det_frexp / det_ldexp are exact bit manipulations equal to std::frexp / std::ldexp
// (which they call outside the normal range), without a libm call. det_pow_many
// evaluates det_pow on several inputs in lockstep (the same operations in the same
// order for each, so the same bits) to keep the divider and multipliers busy.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace replaykit {

// std::frexp for finite x > 0: x = m * 2^e with m in [0.5, 1).
inline double det_frexp(double x, int* e) {
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  const int biased = static_cast<int>((bits >> 52) & 0x7ff);
  if (biased == 0 || biased == 0x7ff) return std::frexp(x, e);  // subnormal (or not finite)
  *e = biased - 1022;
  bits = (bits & ~(uint64_t(0x7ff) << 52)) | (uint64_t(1022) << 52);
  double m;
  std::memcpy(&m, &bits, sizeof m);
  return m;
}

// std::ldexp(x, k) for x in [0.5, 2): an exact multiplication by 2^k while the result
// stays normal, std::ldexp (which rounds subnormals correctly) otherwise.
inline double det_ldexp(double x, int k) {
  if (k < -1020 || k > 1022) return std::ldexp(x, k);
  const uint64_t bits = uint64_t(k + 1023) << 52;
  double scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return x * scale;
}

// Natural logarithm of a finite x > 0.
inline double det_log(double x) {
  int e;
  double m = det_frexp(x, &e);  // x = m * 2^e, m in [0.5, 1)
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
  if (y != y) return y;  // NaN stays NaN (and never reaches the integer conversion below)
  if (y > 709.782712893384) return HUGE_VAL;
  if (y < -745.2) return 0.0;
  constexpr double inv_ln2 = 1.44269504088896338700e+00;
  constexpr double ln2_hi = 6.93147180369123816490e-01;
  constexpr double ln2_lo = 1.90821492927058770002e-10;
  const double k = std::floor(y * inv_ln2 + 0.5);
  const double r = (y - k * ln2_hi) - k * ln2_lo;  // |r| <= 0.35
  double sum = 1.0;
  for (int n = 17; n >= 1; --n) sum = 1.0 + sum * r / n;
  return det_ldexp(sum, static_cast<int>(k));
}

// x^a for finite x > 0 and finite a >= 0, bit-identical on every platform.
inline double det_pow(double x, double a) {
  if (a == 0.0 || x == 1.0) return 1.0;
  if (a == 1.0) return x;
  return det_exp(a * det_log(x));
}

namespace detail {

// det_pow on W inputs in lockstep: for each lane exactly the operations of det_pow,
// in the same order (so the same bits), interleaved across lanes.
template <int W>
inline void det_pow_lanes(const double* x, double a, double* out) {
  constexpr double ln2_hi = 6.93147180369123816490e-01;
  constexpr double ln2_lo = 1.90821492927058770002e-10;
  constexpr double inv_ln2 = 1.44269504088896338700e+00;
  double m[W], s[W], s2[W], sum[W], y[W], k[W], r[W];
  int e[W];
  for (int w = 0; w < W; ++w) {
    m[w] = det_frexp(x[w], &e[w]);
    if (m[w] < 0.70710678118654752440) {
      m[w] *= 2;
      e[w] -= 1;
    }
    s[w] = (m[w] - 1) / (m[w] + 1);
    s2[w] = s[w] * s[w];
    sum[w] = 1.0 / 23;
  }
  for (int j = 21; j >= 1; j -= 2)
    for (int w = 0; w < W; ++w) sum[w] = sum[w] * s2[w] + 1.0 / j;
  for (int w = 0; w < W; ++w) {
    const double log_m = 2 * s[w] * sum[w];
    const double lx = (e[w] * ln2_hi + log_m) + e[w] * ln2_lo;
    y[w] = a * lx;
    const double yy = (y[w] >= -745.2 && y[w] <= 709.782712893384) ? y[w] : 0.0;  // lanes out of range or NaN: any finite value
    k[w] = std::floor(yy * inv_ln2 + 0.5);
    r[w] = (yy - k[w] * ln2_hi) - k[w] * ln2_lo;
    sum[w] = 1.0;
  }
  for (int n = 17; n >= 1; --n)
    for (int w = 0; w < W; ++w) sum[w] = 1.0 + sum[w] * r[w] / n;
  for (int w = 0; w < W; ++w) {
    double v = det_ldexp(sum[w], static_cast<int>(k[w]));
    if (y[w] > 709.782712893384) v = HUGE_VAL;
    if (y[w] < -745.2) v = 0.0;
    if (y[w] != y[w]) v = y[w];
    if (a == 0.0 || x[w] == 1.0) v = 1.0;
    if (a == 1.0) v = x[w];
    out[w] = v;
  }
}

}  // namespace detail

// out[i] = det_pow(x[i], a) for i < n, bit for bit.
inline void det_pow_many(const double* x, double a, double* out, size_t n) {
  if (a == 0.0 || a == 1.0) {
    for (size_t i = 0; i < n; ++i) out[i] = det_pow(x[i], a);
    return;
  }
  constexpr int W = 4;
  size_t i = 0;
  for (; i + W <= n; i += W) detail::det_pow_lanes<W>(x + i, a, out + i);
  for (; i < n; ++i) out[i] = det_pow(x[i], a);
}

}  // namespace replaykit
