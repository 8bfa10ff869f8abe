#include <doctest/doctest.h>

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
