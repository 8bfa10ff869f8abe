// replaykit core: a power function that gives the same bits on every platform.
//
// Prioritized sampling sums p^alpha in the sum-tree, so the draws depend on those
// bits. libm's pow differs in the last place between C libraries (glibc, Apple,
// MSVC), which would let the same seed give different batches on different
// machines. det_pow uses only IEEE-754 basic operations (+, -, *, /, correctly
// rounded everywhere), exact scalings (frexp, ldexp) and two tables of constants
// written out bit for bit, evaluated in a fixed order, so it is bit-reproducible
// wherever the compiler does not contract a*b+c into a fused multiply-add (we build
// with -ffp-contract=off). Its relative error is about |a ln x| * 2^-53 (the
// rounding of a * ln x), below 1e-13 for results between 1e-60 and 1e60: far below
// what sampling can notice.
//
// The method is the classic table-driven one (Tang 1989/1990, as in fdlibm's and
// glibc's log and exp): ln x = e ln 2 + ln c_j + 2 atanh((m - c_j) / (m + c_j)) with
// c_j the nearest of 129 table points in [1, 2], and e^y = 2^(n/32) e^r with
// |r| <= ln 2 / 64 and a table of 2^(j/32); the short polynomials left are far
// shorter than plain series, with one division in all.
//
// det_frexp / det_ldexp are exact bit manipulations equal to std::frexp / std::ldexp
// (which they call outside the normal range), without a libm call. det_pow_many
// evaluates det_pow on several inputs at once with the same operations in the same order
// for each, so the same bits: two per SSE2 register on x86-64 (det_pow itself for the rare
// inputs outside the common range), four interleaved in lockstep elsewhere.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__) && defined(__x86_64__)
#define REPLAYKIT_DETMATH_SSE2 1
#include <emmintrin.h>
#endif

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

namespace detail {

// ln(1 + j/128), j = 0 .. 128, each the double nearest the exact value.
inline constexpr double kLogTable[129] = {
    0x0.0p+0, 0x1.fe02a6b106789p-8, 0x1.fc0a8b0fc03e4p-7, 0x1.7b91b07d5b11bp-6,
    0x1.f829b0e783300p-6, 0x1.39e87b9febd60p-5, 0x1.77458f632dcfcp-5, 0x1.b42dd711971bfp-5,
    0x1.f0a30c01162a6p-5, 0x1.16536eea37ae1p-4, 0x1.341d7961bd1d1p-4, 0x1.51b073f06183fp-4,
    0x1.6f0d28ae56b4cp-4, 0x1.8c345d6319b21p-4, 0x1.a926d3a4ad563p-4, 0x1.c5e548f5bc743p-4,
    0x1.e27076e2af2e6p-4, 0x1.fec9131dbeabbp-4, 0x1.0d77e7cd08e59p-3, 0x1.1b72ad52f67a0p-3,
    0x1.29552f81ff523p-3, 0x1.371fc201e8f74p-3, 0x1.44d2b6ccb7d1ep-3, 0x1.526e5e3a1b438p-3,
    0x1.5ff3070a793d4p-3, 0x1.6d60fe719d21dp-3, 0x1.7ab890210d909p-3, 0x1.87fa06520c911p-3,
    0x1.9525a9cf456b4p-3, 0x1.a23bc1fe2b563p-3, 0x1.af3c94e80bff3p-3, 0x1.bc286742d8cd6p-3,
    0x1.c8ff7c79a9a22p-3, 0x1.d5c216b4fbb91p-3, 0x1.e27076e2af2e6p-3, 0x1.ef0adcbdc5936p-3,
    0x1.fb9186d5e3e2bp-3, 0x1.0402594b4d041p-2, 0x1.0a324e27390e3p-2, 0x1.1058bf9ae4ad5p-2,
    0x1.1675cababa60ep-2, 0x1.1c898c16999fbp-2, 0x1.22941fbcf7966p-2, 0x1.2895a13de86a3p-2,
    0x1.2e8e2bae11d31p-2, 0x1.347dd9a987d55p-2, 0x1.3a64c556945eap-2, 0x1.404308686a7e4p-2,
    0x1.4618bc21c5ec2p-2, 0x1.4be5f957778a1p-2, 0x1.51aad872df82dp-2, 0x1.5767717455a6cp-2,
    0x1.5d1bdbf5809cap-2, 0x1.62c82f2b9c795p-2, 0x1.686c81e9b14afp-2, 0x1.6e08eaa2ba1e4p-2,
    0x1.739d7f6bbd007p-2, 0x1.792a55fdd47a2p-2, 0x1.7eaf83b82afc3p-2, 0x1.842d1da1e8b17p-2,
    0x1.89a3386c1425bp-2, 0x1.8f11e873662c7p-2, 0x1.947941c2116fbp-2, 0x1.99d958117e08bp-2,
    0x1.9f323ecbf984cp-2, 0x1.a484090e5bb0ap-2, 0x1.a9cec9a9a084ap-2, 0x1.af1293247786bp-2,
    0x1.b44f77bcc8f63p-2, 0x1.b9858969310fbp-2, 0x1.beb4d9da71b7cp-2, 0x1.c3dd7a7cdad4dp-2,
    0x1.c8ff7c79a9a22p-2, 0x1.ce1af0b85f3ebp-2, 0x1.d32fe7e00ebd5p-2, 0x1.d83e7258a2f3ep-2,
    0x1.dd46a04c1c4a1p-2, 0x1.e24881a7c6c26p-2, 0x1.e744261d68788p-2, 0x1.ec399d2468cc0p-2,
    0x1.f128f5faf06edp-2, 0x1.f6123fa7028acp-2, 0x1.faf588f78f31fp-2, 0x1.ffd2e0857f498p-2,
    0x1.02552a5a5d0ffp-1, 0x1.04bdf9da926d2p-1, 0x1.0723e5c1cdf40p-1, 0x1.0986f4f573521p-1,
    0x1.0be72e4252a83p-1, 0x1.0e44985d1cc8cp-1, 0x1.109f39e2d4c97p-1, 0x1.12f719593efbcp-1,
    0x1.154c3d2f4d5eap-1, 0x1.179eabbd899a1p-1, 0x1.19ee6b467c96fp-1, 0x1.1c3b81f713c25p-1,
    0x1.1e85f5e7040d0p-1, 0x1.20cdcd192ab6ep-1, 0x1.23130d7bebf43p-1, 0x1.2555bce98f7cbp-1,
    0x1.2795e1289b11bp-1, 0x1.29d37fec2b08bp-1, 0x1.2c0e9ed448e8cp-1, 0x1.2e47436e40268p-1,
    0x1.307d7334f10bep-1, 0x1.32b1339121d71p-1, 0x1.34e289d9ce1d3p-1, 0x1.37117b54747b6p-1,
    0x1.393e0d3562a1ap-1, 0x1.3b68449fffc23p-1, 0x1.3d9026a7156fbp-1, 0x1.3fb5b84d16f42p-1,
    0x1.41d8fe84672aep-1, 0x1.43f9fe2f9ce67p-1, 0x1.4618bc21c5ec2p-1, 0x1.48353d1ea88dfp-1,
    0x1.4a4f85db03ebbp-1, 0x1.4c679afccee3ap-1, 0x1.4e7d811b75bb1p-1, 0x1.50913cc01686bp-1,
    0x1.52a2d265bc5abp-1, 0x1.54b2467999498p-1, 0x1.56bf9d5b3f399p-1, 0x1.58cadb5cd7989p-1,
    0x1.5ad404c359f2dp-1, 0x1.5cdb1dc6c1765p-1, 0x1.5ee02a9241675p-1, 0x1.60e32f44788d9p-1,
    0x1.62e42fefa39efp-1,
};

// 2^(j/32), j = 0 .. 31, each the double nearest the exact value.
inline constexpr double kExp2Table[32] = {
    0x1.0000000000000p+0, 0x1.059b0d3158574p+0, 0x1.0b5586cf9890fp+0, 0x1.11301d0125b51p+0,
    0x1.172b83c7d517bp+0, 0x1.1d4873168b9aap+0, 0x1.2387a6e756238p+0, 0x1.29e9df51fdee1p+0,
    0x1.306fe0a31b715p+0, 0x1.371a7373aa9cbp+0, 0x1.3dea64c123422p+0, 0x1.44e086061892dp+0,
    0x1.4bfdad5362a27p+0, 0x1.5342b569d4f82p+0, 0x1.5ab07dd485429p+0, 0x1.6247eb03a5585p+0,
    0x1.6a09e667f3bcdp+0, 0x1.71f75e8ec5f74p+0, 0x1.7a11473eb0187p+0, 0x1.82589994cce13p+0,
    0x1.8ace5422aa0dbp+0, 0x1.93737b0cdc5e5p+0, 0x1.9c49182a3f090p+0, 0x1.a5503b23e255dp+0,
    0x1.ae89f995ad3adp+0, 0x1.b7f76f2fb5e47p+0, 0x1.c199bdd85529cp+0, 0x1.cb720dcef9069p+0,
    0x1.d5818dcfba487p+0, 0x1.dfc97337b9b5fp+0, 0x1.ea4afa2a490dap+0, 0x1.f50765b6e4540p+0,
};

constexpr double kLn2Hi = 0x1.62e42fee00000p-1;      // ln 2 to 32 bits: e * kLn2Hi is exact
constexpr double kLn2Lo = 0x1.a39ef35793c76p-33;     // ln 2 - kLn2Hi
constexpr double kLn2By32Hi = 0x1.62e42fee00000p-6;  // ln 2 / 32 to 32 bits: n * kLn2By32Hi is exact
constexpr double kLn2By32Lo = 0x1.a39ef35793c76p-38;
constexpr double k32ByLn2 = 0x1.71547652b82fep+5;    // 32 / ln 2
constexpr double kExpMax = 709.782712893384;         // e^y overflows above
constexpr double kExpMin = -745.2;                   // and is 0 below

// x = m * 2^e with m in [1, 2), for finite x > 0.
inline double mantissa12(double x, int* e) {
  const double m = det_frexp(x, e);
  *e -= 1;
  return m * 2;  // exact
}

// Index j of the table point 1 + j/128 nearest m in [1, 2): j in [0, 128].
inline unsigned log_index(double m) {
  uint64_t bits;
  std::memcpy(&bits, &m, sizeof bits);
  return static_cast<unsigned>((((bits >> 44) & 0xff) + 1) >> 1);
}

// ln x for finite x > 0, from its mantissa m in [1, 2), exponent e and table index j.
inline double log_parts(double m, int e, unsigned j) {
  const double c = 1.0 + j * (1.0 / 128);  // exact
  // ln(m / c) = 2 atanh(s), |s| <= 1/512: three terms of the series leave < 1e-19.
  const double s = (m - c) / (m + c);  // m - c is exact
  const double s2 = s * s;
  const double log_r = 2 * s + s * (s2 * (0.66666666666666666667 + s2 * 0.4));
  return (e * kLn2Hi + kLogTable[j]) + (log_r + e * kLn2Lo);
}

// e^y for y in [kExpMin, kExpMax].
inline double exp_in_range(double y) {
  // n = y * 32 / ln 2 rounded to the nearest integer (ties to even), |n| <= 34,400: adding
  // and subtracting 1.5 * 2^52 rounds in the FPU's default mode, without a libm call.
  const double nd = (y * k32ByLn2 + 0x1.8p52) - 0x1.8p52;
  const double r = (y - nd * kLn2By32Hi) - nd * kLn2By32Lo;  // |r| <= ln 2 / 64 (+ rounding)
  // e^r to degree 6 (the next term is below 4e-18), in Estrin's order: a shorter chain
  // of dependent operations than Horner's.
  const double r2 = r * r;
  const double hi = 0.041666666666666666667 + r * 0.0083333333333333333333 + r2 * 0.0013888888888888888889;
  const double mid = 0.5 + r * 0.16666666666666666667 + r2 * hi;
  const double p = (1.0 + r) + r2 * mid;
  const int n = static_cast<int>(nd);
  return det_ldexp(kExp2Table[n & 31] * p, n >> 5);  // n >> 5 = floor(n / 32); the product is in [0.98, 1.98]
}

// det_pow on W inputs in lockstep: for each lane exactly the operations of det_pow, in
// the same order (so the same bits), interleaved across lanes so that their latencies
// overlap.
template <int W>
inline void pow_lanes(const double* x, double a, double* out) {
  double m[W], y[W];
  int e[W];
  unsigned j[W];
  for (int w = 0; w < W; ++w) {
    m[w] = mantissa12(x[w], &e[w]);
    j[w] = log_index(m[w]);
  }
  for (int w = 0; w < W; ++w) y[w] = a * log_parts(m[w], e[w], j[w]);
  for (int w = 0; w < W; ++w) {
    const double yy = (y[w] >= kExpMin && y[w] <= kExpMax) ? y[w] : 0.0;  // other lanes: any finite value
    double v = exp_in_range(yy);
    if (y[w] > kExpMax) v = HUGE_VAL;
    if (y[w] < kExpMin) v = 0.0;
    if (y[w] != y[w]) v = y[w];  // NaN stays NaN
    if (a == 0.0 || x[w] == 1.0) v = 1.0;
    if (a == 1.0) v = x[w];
    out[w] = v;
  }
}

}  // namespace detail

// Natural logarithm of a finite x > 0.
inline double det_log(double x) {
  int e;
  const double m = detail::mantissa12(x, &e);
  return detail::log_parts(m, e, detail::log_index(m));
}

// e^y for finite y (NaN stays NaN).
inline double det_exp(double y) {
  if (y != y) return y;
  if (y > detail::kExpMax) return HUGE_VAL;
  if (y < detail::kExpMin) return 0.0;
  return detail::exp_in_range(y);
}

// x^a for finite x > 0 and finite a >= 0, bit-identical on every platform.
inline double det_pow(double x, double a) {
  if (a == 0.0 || x == 1.0) return 1.0;
  if (a == 1.0) return x;
  return det_exp(a * det_log(x));
}

#if defined(REPLAYKIT_DETMATH_SSE2)
namespace detail {

// det_pow of two inputs in the two lanes of SSE2 registers (baseline on x86-64): exactly
// det_pow's operations on the common case (x normal and not 1, |a ln x| <= 700, so the
// result is normal and the exponent scaling a plain multiplication). Returns a 2-bit mask
// of the lanes outside that case, which the caller computes with det_pow instead.
inline int pow2_sse2(const double* x, double a, double* out) {
  const __m128d xv = _mm_loadu_pd(x);
  const __m128i bits = _mm_castpd_si128(xv);
  const __m128i two52 = _mm_set1_epi64x(0x4330000000000000LL);  // the bits of 2^52
  const __m128d two52d = _mm_castsi128_pd(two52);
  // x = m 2^e with m in [1, 2): e = biased exponent - 1023, as a double by the 2^52 trick.
  const __m128i biased = _mm_and_si128(_mm_srli_epi64(bits, 52), _mm_set1_epi64x(0x7ff));
  const __m128d e = _mm_sub_pd(_mm_sub_pd(_mm_castsi128_pd(_mm_or_si128(biased, two52)), two52d), _mm_set1_pd(1023.0));
  const __m128d m = _mm_castsi128_pd(
      _mm_or_si128(_mm_and_si128(bits, _mm_set1_epi64x(0x000fffffffffffffLL)), _mm_set1_epi64x(0x3ff0000000000000LL)));
  // j: the nearest table point 1 + j/128.
  const __m128i j = _mm_srli_epi64(
      _mm_add_epi64(_mm_and_si128(_mm_srli_epi64(bits, 44), _mm_set1_epi64x(0xff)), _mm_set1_epi64x(1)), 1);
  const __m128d jd = _mm_sub_pd(_mm_castsi128_pd(_mm_or_si128(j, two52)), two52d);
  const __m128d c = _mm_add_pd(_mm_set1_pd(1.0), _mm_mul_pd(jd, _mm_set1_pd(1.0 / 128)));
  const __m128d s = _mm_div_pd(_mm_sub_pd(m, c), _mm_add_pd(m, c));
  const __m128d s2 = _mm_mul_pd(s, s);
  const __m128d log_r = _mm_add_pd(
      _mm_add_pd(s, s),  // 2 * s, exact either way
      _mm_mul_pd(s, _mm_mul_pd(s2, _mm_add_pd(_mm_set1_pd(0.66666666666666666667), _mm_mul_pd(s2, _mm_set1_pd(0.4))))));
  const int j0 = _mm_cvtsi128_si32(j), j1 = _mm_cvtsi128_si32(_mm_unpackhi_epi64(j, j));
  const __m128d table_log = _mm_setr_pd(kLogTable[j0], kLogTable[j1]);
  const __m128d lx = _mm_add_pd(_mm_add_pd(_mm_mul_pd(e, _mm_set1_pd(kLn2Hi)), table_log),
                                _mm_add_pd(log_r, _mm_mul_pd(e, _mm_set1_pd(kLn2Lo))));
  const __m128d y = _mm_mul_pd(_mm_set1_pd(a), lx);
  // e^y: t = y 32/ln 2 + 1.5 2^52 rounds n into t's low bits (n + 2^51 there, >= 0).
  const __m128d magic = _mm_set1_pd(0x1.8p52);
  const __m128d t = _mm_add_pd(_mm_mul_pd(y, _mm_set1_pd(k32ByLn2)), magic);
  const __m128d nd = _mm_sub_pd(t, magic);
  const __m128d r = _mm_sub_pd(_mm_sub_pd(y, _mm_mul_pd(nd, _mm_set1_pd(kLn2By32Hi))), _mm_mul_pd(nd, _mm_set1_pd(kLn2By32Lo)));
  const __m128d r2 = _mm_mul_pd(r, r);
  const __m128d hi = _mm_add_pd(_mm_add_pd(_mm_set1_pd(0.041666666666666666667), _mm_mul_pd(r, _mm_set1_pd(0.0083333333333333333333))),
                                _mm_mul_pd(r2, _mm_set1_pd(0.0013888888888888888889)));
  const __m128d mid = _mm_add_pd(_mm_add_pd(_mm_set1_pd(0.5), _mm_mul_pd(r, _mm_set1_pd(0.16666666666666666667))), _mm_mul_pd(r2, hi));
  const __m128d p = _mm_add_pd(_mm_add_pd(_mm_set1_pd(1.0), r), _mm_mul_pd(r2, mid));
  const __m128i nb = _mm_and_si128(_mm_castpd_si128(t), _mm_set1_epi64x(0x000fffffffffffffLL));  // n + 2^51
  const int i0 = _mm_cvtsi128_si32(nb) & 31, i1 = _mm_cvtsi128_si32(_mm_unpackhi_epi64(nb, nb)) & 31;
  // 2^(n >> 5) from its bits: ((n + 2^51) >> 5) - 2^46 + 1023 is the biased exponent.
  const __m128i biased_k = _mm_add_epi64(_mm_srli_epi64(nb, 5), _mm_set1_epi64x(1023 - (int64_t(1) << 46)));
  const __m128d scale = _mm_castsi128_pd(_mm_slli_epi64(biased_k, 52));
  const __m128d v = _mm_mul_pd(_mm_mul_pd(_mm_setr_pd(kExp2Table[i0], kExp2Table[i1]), p), scale);
  _mm_storeu_pd(out, v);
  // The common case: 2.2250738585072014e-308 <= x <= DBL_MAX, x != 1, -700 <= y <= 700 (false for NaN).
  const __m128d ok = _mm_and_pd(
      _mm_and_pd(_mm_cmpge_pd(xv, _mm_set1_pd(2.2250738585072014e-308)), _mm_cmple_pd(xv, _mm_set1_pd(1.7976931348623157e308))),
      _mm_and_pd(_mm_cmpneq_pd(xv, _mm_set1_pd(1.0)),
                 _mm_and_pd(_mm_cmpge_pd(y, _mm_set1_pd(-700.0)), _mm_cmple_pd(y, _mm_set1_pd(700.0)))));
  return _mm_movemask_pd(ok) ^ 3;
}

}  // namespace detail
#endif

// out[i] = det_pow(x[i], a) for i < n, bit for bit (out may be x): two at a time in SSE2
// where built for x86-64, otherwise 4 at a time in lockstep.
inline void det_pow_many(const double* x, double a, double* out, size_t n) {
  if (a == 0.0 || a == 1.0) {
    for (size_t i = 0; i < n; ++i) out[i] = det_pow(x[i], a);
    return;
  }
  size_t i = 0;
#if defined(REPLAYKIT_DETMATH_SSE2)
  for (; i + 2 <= n; i += 2) {
    double in[2] = {x[i], x[i + 1]};  // out may be x
    const int slow = detail::pow2_sse2(in, a, out + i);
    if (slow & 1) out[i] = det_pow(in[0], a);
    if (slow & 2) out[i + 1] = det_pow(in[1], a);
  }
#else
  constexpr int W = 4;
  for (; i + W <= n; i += W) detail::pow_lanes<W>(x + i, a, out + i);
#endif
  for (; i < n; ++i) out[i] = det_pow(x[i], a);
}

}  // namespace replaykit
