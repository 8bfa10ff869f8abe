#include <doctest/doctest.h>

#include <set>

#include "helpers.h"

using namespace rk_test;

TEST_CASE("uniform buffer round-trips rows and keeps fields of a row together") {
  auto b = make_buffer(16);
  Rows rows(0, 10);
  CHECK(b->push(rows.cols, 10, nullptr) == 9);
  CHECK(b->length() == 10);
  Batch out = sample_rounds(*b, 10, 20, 1);
  std::set<double> seen;
  for (uint64_t i = 0; i < 200; ++i) {
    CHECK(out.consistent(i));
    CHECK(out.keys[i] == uint64_t(out.id[i]));  // first generation: key == slot == id
    seen.insert(out.id[i]);
  }
  CHECK(seen.size() == 10);
}

TEST_CASE("FIFO overwrites the oldest item first") {
  auto b = make_buffer(5);
  Rows a(0, 3), c(3, 5);
  b->push(a.cols, 3, nullptr);
  b->push(c.cols, 5, nullptr);  // ids 0..7 into 5 slots: 3..7 survive
  CHECK(b->length() == 5);
  Batch out = sample_rounds(*b, 5, 100, 2);
  std::set<double> seen(out.id.begin(), out.id.end());
  CHECK(seen == std::set<double>{3, 4, 5, 6, 7});
  for (uint64_t i = 0; i < 500; ++i) CHECK(out.consistent(i));
}

TEST_CASE("a batch push equals a loop of single pushes, across wraps and laps") {
  for (uint64_t n : {1ull, 4ull, 5ull, 6ull, 13ull}) {
    auto batched = make_buffer(5), looped = make_buffer(5);
    Rows pre(100, 2);
    batched->push(pre.cols, 2, nullptr);
    looped->push(pre.cols, 2, nullptr);
    Rows rows(0, n);
    batched->push(rows.cols, n, nullptr);
    for (uint64_t r = 0; r < n; ++r) {
      Rows one(double(r), 1);
      looped->push(one.cols, 1, nullptr);
    }
    CHECK(state_of(*batched) == state_of(*looped));
  }
}

TEST_CASE("sampling is a pure function of the random words") {
  auto b = make_buffer(100);
  Rows rows(0, 77);
  b->push(rows.cols, 77, nullptr);
  Batch x(64), y(64);
  auto w = words(64, 5);
  b->sample(64, w.data(), x.outs, x.keys.data(), nullptr, 0);
  b->sample(64, w.data(), y.outs, y.keys.data(), nullptr, 0);
  CHECK(x.id == y.id);
  CHECK(x.keys == y.keys);
}

TEST_CASE("bad calls throw the right kind and change nothing") {
  auto b = make_buffer(4);
  Rows rows(0, 3);
  b->push(rows.cols, 3, nullptr);
  const auto before = state_of(*b);
  Batch out(8);
  auto w = words(8, 1);
  try {
    b->sample(4, w.data(), out.outs, out.keys.data(), nullptr, 0);
    FAIL("sample beyond length did not throw");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::Range);
  }
  CHECK_THROWS_AS(b->sample(0, w.data(), out.outs, out.keys.data(), nullptr, 0), Error);
  double p = 1.0;
  try {
    b->push(rows.cols, 1, &p);  // an explicit priority on a uniform buffer
    FAIL("no throw");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::State);
  }
  CHECK_THROWS_AS(b->push(rows.cols, 0, nullptr), Error);
  double deltas[1] = {1.0};
  uint64_t keys[1] = {0};
  CHECK_THROWS_AS(b->update_priorities(keys, 1, deltas), Error);
  CHECK(state_of(*b) == before);
}

TEST_CASE("read by key returns the named items and refuses stale or unknown keys") {
  auto b = make_buffer(3);
  Rows rows(0, 4);  // id 0 is overwritten by id 3 in slot 0
  b->push(rows.cols, 4, nullptr);
  uint64_t keys[2] = {3, 2};
  Batch out(2);
  b->read(keys, 2, out.outs);
  CHECK(out.id[0] == 3);
  CHECK(out.id[1] == 2);
  CHECK(out.consistent(0));
  uint64_t stale[1] = {0};
  CHECK_THROWS_AS(b->read(stale, 1, out.outs), Error);
  uint64_t unknown[1] = {100};
  CHECK_THROWS_AS(b->read(unknown, 1, out.outs), Error);
}

TEST_CASE("clear empties the buffer and old keys go stale") {
  auto b = make_buffer(3);
  Rows rows(0, 2);
  b->push(rows.cols, 2, nullptr);
  b->clear();
  CHECK(b->length() == 0);
  Batch out(1);
  uint64_t k[1] = {0};
  CHECK_THROWS_AS(b->read(k, 1, out.outs), Error);
  Rows more(50, 1);
  CHECK(b->push(more.cols, 1, nullptr) == 3);  // slot 0, second generation
  b->read(std::vector<uint64_t>{3}.data(), 1, out.outs);
  CHECK(out.id[0] == 50);
}
