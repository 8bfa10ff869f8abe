// The sum- and min-trees (sum_tree.h). Over 300 lines because the batched descent and the
// batched parent updates each come in a vector and a portable form, kept side by side so a
// test can hold them equal.
#include "sum_tree.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>

#if defined(__SSE2__) && defined(__x86_64__)
#define REPLAYKIT_SSE2 1
#include <emmintrin.h>
#endif

#include "memory.h"

namespace replaykit {

namespace {

constexpr uint64_t kFan = 8;  // children per node: 8 doubles, one 64-byte cache line
constexpr double kInf = std::numeric_limits<double>::infinity();

uint64_t lines(uint64_t n) { return (n + kFan - 1) / kFan; }

inline void prefetch_line(const void* p) {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p);
#else
  (void)p;
#endif
}

// The end of a descent step, shared by both versions below: given c, how many of the
// running sums q[1 .. 8] are <= m (q[0] = 0), takes child c, or, when rounding left m at or
// past the node's sum (c == 8), the last child of positive sum; leaves m - q[child].
inline unsigned take_child(const double* ch, const double* q, unsigned c, double m, double* mass) {
  if (c == kFan) {
    c = 0;
    for (unsigned k = kFan; k-- > 0;)
      if (ch[k] > 0.0) {
        c = k;
        break;
      }
  }
  *mass = m - q[c];
  return c;
}

// Among the 8 children `ch` of a node, the one where the running sum first exceeds
// `mass`, and the mass left for the descent below it (`mass` minus the sums of the
// children before it). The running sums are taken in pairs, P[2j] = B + ch[2j] and
// P[2j+1] = B + (ch[2j] + ch[2j+1]) with B = P[2j-1]: a chain of 4 additions instead of 8,
// still never decreasing, and P[k] == P[k-1] exactly whenever ch[k] == 0. So the child
// taken, the first k with mass < P[k] (found by counting the P[k] <= mass, branch-free),
// always has a positive sum, and the mass left is >= 0. When rounding leaves no such
// child (mass at or past the node's sum), the last child of positive sum.
inline unsigned choose_child_scalar(const double* ch, double* mass) {
  double q[kFan + 1];  // q[k + 1] = P[k]; q[0] = 0
  q[0] = 0.0;
  double base = 0.0;
  for (unsigned j = 0; j < kFan; j += 2) {
    const double pair = ch[j] + ch[j + 1];
    q[j + 1] = base + ch[j];
    q[j + 2] = base + pair;
    base = q[j + 2];
  }
  const double m = *mass;
  unsigned c = 0;
  for (unsigned k = 1; k <= kFan; ++k) c += static_cast<unsigned>(q[k] <= m);
  return take_child(ch, q, c, m, mass);
}

#if defined(REPLAYKIT_SSE2)
// The same, two children at a time in SSE2 registers (baseline on x86-64): the same
// additions in the same order, so the same bits as choose_child_scalar.
inline unsigned choose_child_sse2(const double* ch, double* mass) {
  const __m128d zero = _mm_setzero_pd();
  const __m128d m = _mm_set1_pd(*mass);
  // Per pair (a, b): (a, a + b), then + the running sum B of the pairs before.
  const __m128d c01 = _mm_load_pd(ch), c23 = _mm_load_pd(ch + 2), c45 = _mm_load_pd(ch + 4), c67 = _mm_load_pd(ch + 6);
  const __m128d q01 = _mm_add_pd(_mm_add_pd(c01, _mm_unpacklo_pd(zero, c01)), zero);
  const __m128d q23 = _mm_add_pd(_mm_add_pd(c23, _mm_unpacklo_pd(zero, c23)), _mm_unpackhi_pd(q01, q01));
  const __m128d q45 = _mm_add_pd(_mm_add_pd(c45, _mm_unpacklo_pd(zero, c45)), _mm_unpackhi_pd(q23, q23));
  const __m128d q67 = _mm_add_pd(_mm_add_pd(c67, _mm_unpacklo_pd(zero, c67)), _mm_unpackhi_pd(q45, q45));
  // c = how many running sums are <= mass: each true comparison is -1 as an integer.
  __m128i count = _mm_sub_epi64(_mm_setzero_si128(), _mm_castpd_si128(_mm_cmple_pd(q01, m)));
  count = _mm_sub_epi64(count, _mm_castpd_si128(_mm_cmple_pd(q23, m)));
  count = _mm_sub_epi64(count, _mm_castpd_si128(_mm_cmple_pd(q45, m)));
  count = _mm_sub_epi64(count, _mm_castpd_si128(_mm_cmple_pd(q67, m)));
  unsigned c = static_cast<unsigned>(_mm_cvtsi128_si64(count) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(count, count)));
  alignas(16) double q[kFan + 2];  // q[k + 1] = P[k]; q[0] = 0
  q[0] = 0.0;
  _mm_storeu_pd(q + 1, q01);
  _mm_storeu_pd(q + 3, q23);
  _mm_storeu_pd(q + 5, q45);
  _mm_storeu_pd(q + 7, q67);
  return take_child(ch, q, c, _mm_cvtsd_f64(m), mass);
}
#endif

inline unsigned choose_child(const double* ch, double* mass) {
#if defined(REPLAYKIT_SSE2)
  return choose_child_sse2(ch, mass);
#else
  return choose_child_scalar(ch, mass);
#endif
}

// The fixed summation order of a node (pairwise), so sums are the same everywhere.
inline double sum8(const double* c) {
  return ((c[0] + c[1]) + (c[2] + c[3])) + ((c[4] + c[5]) + (c[6] + c[7]));
}

inline double min8(const double* c) {
  const double a = std::min(std::min(c[0], c[1]), std::min(c[2], c[3]));
  const double b = std::min(std::min(c[4], c[5]), std::min(c[6], c[7]));
  return std::min(a, b);
}

// Recomputes the parents of the leaves indices[0 .. n) (already written), level by
// level, each affected parent once per run of equal parents; a level where at least
// as many parents are affected as it has is recomputed whole.
template <double (*Combine)(const double*)>
void update_parents(double* nodes, const detail::LineTreeShape& shape, const uint64_t* indices, uint64_t n,
                    std::vector<uint64_t>* scratch) {
  if (n == 0) return;
  scratch->assign(indices, indices + n);
  uint64_t* dirty = scratch->data();
  uint64_t count = n;
  uint64_t below = shape.capacity;  // real nodes in the level below
  bool whole = false;
  for (int level = 1; level <= shape.top(); ++level) {
    const double* children = nodes + shape.offset[level - 1];
    double* here = nodes + shape.offset[level];
    const uint64_t real = lines(below);
    if (whole || count >= real) {
      whole = true;
      for (uint64_t p = 0; p < real; ++p) here[p] = Combine(children + p * kFan);
    } else {
      uint64_t out = 0, last = ~uint64_t(0);
      for (uint64_t k = 0; k < count; ++k) {
        const uint64_t p = dirty[k] / kFan;
        if (p == last) continue;
        last = p;
        const double v = Combine(children + p * kFan);
        // A node whose value did not change leaves its ancestors as they are: most
        // min-tree paths stop after a level or two.
        if (v == here[p]) continue;
        here[p] = v;
        dirty[out++] = p;
      }
      count = out;
      if (count == 0) return;
    }
    below = real;
  }
}

template <double (*Combine)(const double*)>
void update_path(double* nodes, const detail::LineTreeShape& shape, uint64_t i) {
  for (int level = 1; level <= shape.top(); ++level) {
    i /= kFan;
    const double v = Combine(nodes + shape.offset[level - 1] + i * kFan);
    double& node = nodes[shape.offset[level] + i];
    if (v == node) return;  // unchanged: so are the ancestors
    node = v;
  }
}

}  // namespace

namespace detail {

unsigned choose_child_for_test(const double* children, double* mass, bool vector) {
#if defined(REPLAYKIT_SSE2)
  if (vector) return choose_child_sse2(children, mass);
#else
  (void)vector;
#endif
  return choose_child_scalar(children, mass);
}

LineTreeShape::LineTreeShape(uint64_t cap) : capacity(cap == 0 ? 1 : cap) {
  // Level 0: the leaves, padded to whole lines; each level above has a node per line
  // below, until a level of one node: the root (alone on its own line).
  uint64_t at = 0, nodes = capacity;
  for (;;) {
    offset.push_back(at);
    at += lines(nodes) * kFan;
    if (nodes == 1 && offset.size() > 1) break;
    nodes = lines(nodes);
  }
  size = at;
}

}  // namespace detail

namespace detail {

LineTree::LineTree(uint64_t capacity, double identity)
    : shape_(capacity), nodes_(shape_.size, identity), identity_(identity) {}

void LineTree::clear() { std::fill(nodes_.data(), nodes_.data() + nodes_.size(), identity_); }

template <double (*Combine)(const double*)>
void LineTree::set_leaf(uint64_t i, double value) {
  nodes_.data()[i] = value;
  update_path<Combine>(nodes_.data(), shape_, i);
}

template <double (*Combine)(const double*)>
void LineTree::set_leaves(const uint64_t* i, const double* values, uint64_t n) {
  double* leaves = nodes_.data();
  for (uint64_t k = 0; k < n; ++k) leaves[i[k]] = values[k];
  update_parents<Combine>(nodes_.data(), shape_, i, n, &scratch_);
}

}  // namespace detail

SumTree::SumTree(uint64_t capacity) : LineTree(capacity, 0.0) {}

void SumTree::set(uint64_t i, double value) { set_leaf<sum8>(i, value); }

void SumTree::set_many(const uint64_t* i, const double* values, uint64_t n) { set_leaves<sum8>(i, values, n); }

uint64_t SumTree::find(double mass) const {
  const double* nodes = nodes_.data();
  uint64_t i = 0;
  for (int level = shape_.top(); level >= 1; --level)
    i = i * kFan + choose_child(nodes + shape_.offset[level - 1] + i * kFan, &mass);
  return i;
}

void SumTree::find_many(const double* masses, uint64_t n, uint64_t* out) const {
  // Descents in groups, level by level: each draw's next line is prefetched while the
  // other draws of the group are served, so the group's cache misses overlap.
  constexpr uint64_t kGroup = 32;
  const double* nodes = nodes_.data();
  const int top = shape_.top();
  for (uint64_t start = 0; start < n; start += kGroup) {
    const uint64_t g = std::min(kGroup, n - start);
    double mass[kGroup];
    uint64_t idx[kGroup];
    for (uint64_t k = 0; k < g; ++k) {
      mass[k] = masses[start + k];
      idx[k] = 0;
    }
    for (int level = top; level >= 1; --level) {
      const double* children = nodes + shape_.offset[level - 1];
      const double* next = level > 1 ? nodes + shape_.offset[level - 2] : nullptr;
      for (uint64_t k = 0; k < g; ++k) {
        idx[k] = idx[k] * kFan + choose_child(children + idx[k] * kFan, &mass[k]);
        if (next) prefetch_line(next + idx[k] * kFan);
      }
    }
    for (uint64_t k = 0; k < g; ++k) out[start + k] = idx[k];
  }
}

MinTree::MinTree(uint64_t capacity) : LineTree(capacity, kInf) {}

void MinTree::set(uint64_t i, double value) { set_leaf<min8>(i, value); }

void MinTree::set_many(const uint64_t* i, const double* values, uint64_t n) { set_leaves<min8>(i, values, n); }

void MinTree::reset(uint64_t i) { set(i, kInf); }

uint64_t MinTree::argmin() const {
  // Down the leftmost child equal to its parent's minimum (minima are exact, so one is).
  const double* nodes = nodes_.data();
  uint64_t i = 0;
  double m = min();
  for (int level = shape_.top(); level >= 1; --level) {
    const double* ch = nodes + shape_.offset[level - 1] + i * kFan;
    uint64_t c = 0;
    while (c + 1 < kFan && !(ch[c] == m)) ++c;
    i = i * kFan + c;
  }
  return i;
}

void MinTree::prefetch(uint64_t i) const {
  const double* nodes = nodes_.data();
  prefetch_line(nodes + i);
  if (shape_.top() >= 2) prefetch_line(nodes + shape_.offset[1] + i / kFan);
}


}  // namespace replaykit
