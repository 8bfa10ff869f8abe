// replaykit core: turning random words into draws.
//
// The generator itself lives in the TypeScript facade (pure-rand's xoroshiro128+,
// whose state is readable and restorable); the core consumes its 32-bit words,
// two per draw, with integer arithmetic only, so the same words give the same
// draws on every platform.
#pragma once
#include <cstdint>

namespace replaykit {

inline uint64_t word64(const uint32_t* w) { return (uint64_t(w[0]) << 32) | w[1]; }

// Uniform integer in [0, n) from a 64-bit word, by Lemire's multiply-shift (bias below n / 2^64).
inline uint64_t below(uint64_t word, uint64_t n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(word) * n) >> 64);
}

// The same from two 32-bit words of the generator.
inline uint64_t uniform_below(const uint32_t* w, uint64_t n) { return below(word64(w), n); }

// A stream of 64-bit words from one seed: SplitMix64 (Steele, Lea and Flood 2014). For draws
// whose number is not known before they are made (sequence starts drawn again, HER's goals),
// seeded by words of the generator of record, so that they too follow the buffer's seed.
struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
};

// Uniform double in [0, 1) with 53 random bits.
inline double uniform01(const uint32_t* w) { return static_cast<double>(word64(w) >> 11) * 0x1.0p-53; }

// Fisher-Yates shuffle of a[0 .. n) from 2 * (n - 1) words (none for n <= 1).
template <typename T>
void shuffle(T* a, uint64_t n, const uint32_t* words) {
  for (uint64_t i = n; i-- > 1;) {
    const uint64_t j = uniform_below(words + 2 * (n - 1 - i), i + 1);
    T t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

}  // namespace replaykit
