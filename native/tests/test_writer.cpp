#include <doctest/doctest.h>

#include <random>

#include "writer.h"

using namespace replaykit;

TEST_CASE("writer fills then wraps, and keys name items") {
  Writer w(4);
  CHECK(w.advance(3) == 0);
  CHECK(w.length() == 3);
  CHECK(w.cursor() == 3);
  CHECK(w.key(0) == 0);
  CHECK(w.key(2) == 2);
  CHECK(w.advance(2) == 3);  // slots 3, 0
  CHECK(w.length() == 4);
  CHECK(w.cursor() == 1);
  CHECK(w.key(3) == 3);
  CHECK(w.key(0) == 4);  // second generation of slot 0
  uint64_t slot;
  CHECK(w.resolve(4, &slot) == KeyState::Live);
  CHECK(slot == 0);
  CHECK(w.resolve(0, &slot) == KeyState::Stale);
  CHECK(w.resolve(8, &slot) == KeyState::Unknown);
  CHECK(w.resolve(1, &slot) == KeyState::Live);     // slot 1, first generation
  CHECK(w.resolve(5, &slot) == KeyState::Unknown);  // slot 1 was written only once
}

TEST_CASE("a batch larger than the capacity counts every lap") {
  Writer w(3);
  w.advance(1);
  CHECK(w.advance(7) == 1);  // rows go to slots 1,2,0,1,2,0,1
  CHECK(w.cursor() == 2);
  CHECK(w.length() == 3);
  // slot 0: written by rows 2, 5 (+ the first push? no: first push wrote slot 0) -> 3 writes
  CHECK(w.key(0) == 2 * 3 + 0);
  CHECK(w.key(1) == 2 * 3 + 1);  // rows 0, 3, 6
  CHECK(w.key(2) == 1 * 3 + 2);  // rows 1, 4
}

TEST_CASE("clear keeps handed-out keys stale") {
  Writer w(2);
  w.advance(2);
  const uint64_t k0 = w.key(0);
  w.clear();
  uint64_t slot;
  CHECK(w.length() == 0);
  CHECK(w.resolve(k0, &slot) == KeyState::Stale);
  w.record(0);
  CHECK(w.length() == 1);
  CHECK(w.key(0) != k0);
  CHECK(w.resolve(w.key(0), &slot) == KeyState::Live);
  CHECK(w.resolve(k0, &slot) == KeyState::Stale);
}

TEST_CASE("write counts from the cursor (regular FIFO) always equal the per-slot record") {
  // Random pushes of every size (within a lap, whole laps, several laps) and clears at
  // lap ends and in mid-lap, then restores of the record: writes_of and key must agree with
  // writes() at every step, and resolve must classify every key as the record says.
  std::mt19937_64 g(21);
  for (uint64_t cap : {1, 2, 7, 64}) {
    Writer w(cap);
    auto check = [&](const Writer& x) {
      for (uint64_t s = 0; s < cap; ++s) {
        REQUIRE(x.writes_of(s) == x.writes()[s]);
        if (s < x.length()) REQUIRE(x.key(s) == (x.writes()[s] - 1) * cap + s);
        for (uint64_t gen = 0; gen < x.writes()[s] + 2; ++gen) {
          uint64_t slot;
          const KeyState want = gen >= x.writes()[s]                          ? KeyState::Unknown
                                : (gen + 1 == x.writes()[s] && s < x.length()) ? KeyState::Live
                                                                              : KeyState::Stale;
          REQUIRE(x.resolve(gen * cap + s, &slot) == want);
        }
      }
    };
    for (int step = 0; step < 400; ++step) {
      const uint64_t r = g() % 10;
      if (r == 0) {
        w.clear();
      } else if (r == 1) {
        w.advance(cap - w.cursor());  // to the end of the lap
      } else if (r == 2) {
        w.advance(1 + g() % (3 * cap));
      } else if (r == 3) {  // a restore of the same record keeps every answer
        Writer copy(cap);
        copy.restore(w.length(), w.cursor(), w.writes().data(), nullptr, 0);
        check(copy);
      } else {
        w.advance(1 + g() % cap);
      }
      check(w);
    }
  }
  // An irregular record restored (as a mid-lap clear leaves): answers from the record.
  Writer w(4);
  const uint64_t writes[4] = {3, 1, 2, 2};
  w.restore(2, 2, writes, nullptr, 0);
  for (uint64_t s = 0; s < 4; ++s) CHECK(w.writes_of(s) == writes[s]);
  CHECK(w.key(0) == 8);
  CHECK(w.key(1) == 1);
}
