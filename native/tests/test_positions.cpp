#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>

#include "helpers.h"
#include "random.h"

using namespace rk_test;

namespace {
std::vector<double> ids_at_positions(const ReplayBuffer& b) {
  std::vector<uint64_t> pos(b.length());
  std::iota(pos.begin(), pos.end(), uint64_t(0));
  Batch out(b.length());
  b.read_positions(pos.data(), pos.size(), out.outs, out.keys.data());
  for (uint64_t i = 0; i < b.length(); ++i) CHECK(out.consistent(i));
  return out.id;
}
}  // namespace

TEST_CASE("positions run from the oldest to the newest item, across the ring's wrap") {
  auto b = make_buffer(4);
  Rows a(0, 3);
  b->push(a.cols, 3, nullptr);
  CHECK(ids_at_positions(*b) == std::vector<double>{0, 1, 2});
  Rows c(3, 3);  // ids 3, 4, 5: the ring wraps, 0 and 1 are overwritten
  b->push(c.cols, 3, nullptr);
  CHECK(ids_at_positions(*b) == std::vector<double>{2, 3, 4, 5});
  std::vector<uint64_t> keys(4);
  b->keys_in_order(keys.data());
  CHECK(keys == std::vector<uint64_t>{2, 3, 4, 5});
  uint64_t bad = 4;
  Batch out(1);
  CHECK_THROWS_AS(b->read_positions(&bad, 1, out.outs, nullptr), Error);
}

TEST_CASE("positions follow insertion order under lowest-priority eviction") {
  PrioritizedOptions o;
  o.eviction = Eviction::LowestPriority;
  auto b = make_buffer(3, o);
  Rows a(0, 3);
  std::vector<double> p = {5, 1, 3};
  b->push(a.cols, 3, p.data());
  Rows c(3, 1);
  double p3 = 4;
  b->push(c.cols, 1, &p3);  // replaces id 1 in slot 1
  CHECK(ids_at_positions(*b) == std::vector<double>{0, 2, 3});
  Rows d(4, 1);
  double p4 = 9;
  b->push(d.cols, 1, &p4);  // replaces id 2 (priority 3)
  CHECK(ids_at_positions(*b) == std::vector<double>{0, 3, 4});
  b->clear();
  CHECK(b->length() == 0);
  b->push(a.cols, 2, p.data());
  CHECK(ids_at_positions(*b) == std::vector<double>{0, 1});
}

TEST_CASE("read_live skips overwritten items and reports what it consumed") {
  auto b = make_buffer(4);
  Rows a(0, 4);
  b->push(a.cols, 4, nullptr);
  std::vector<uint64_t> keys(4);
  b->keys_in_order(keys.data());  // 0 1 2 3
  Rows c(4, 2);                    // ids 4, 5 overwrite ids 0, 1
  b->push(c.cols, 2, nullptr);
  Batch out(3);
  uint64_t got = 0;
  const uint64_t consumed = b->read_live(keys.data(), 4, 3, out.outs, out.keys.data(), &got);
  CHECK(consumed == 4);
  CHECK(got == 2);
  CHECK(out.id[0] == 2);
  CHECK(out.id[1] == 3);
  CHECK(out.keys[0] == 2);
  // stops as soon as it has enough
  std::vector<uint64_t> live = {2, 3, 4, 5};
  CHECK(b->read_live(live.data(), 4, 2, out.outs, out.keys.data(), &got) == 2);
  CHECK(got == 2);
}

TEST_CASE("a read with a null out skips that field") {
  auto b = make_buffer(4);
  Rows a(0, 2);
  b->push(a.cols, 2, nullptr);
  Batch out(1);
  out.obs.assign(3, -1.0f);
  void* outs[3] = {out.outs[0], nullptr, out.outs[2]};
  uint64_t pos = 1;
  b->read_positions(&pos, 1, outs, nullptr);
  CHECK(out.id[0] == 1);
  CHECK(out.obs[0] == -1.0f);
}

TEST_CASE("shuffle is a permutation, fixed by the words") {
  std::vector<uint64_t> a(1000);
  std::iota(a.begin(), a.end(), uint64_t(0));
  auto b = a;
  auto w = words(999, 3);
  shuffle(a.data(), a.size(), w.data());
  shuffle(b.data(), b.size(), w.data());
  CHECK(a == b);
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (uint64_t i = 0; i < 1000; ++i) CHECK(sorted[i] == i);
  uint64_t fixed = 0;
  for (uint64_t i = 0; i < 1000; ++i) fixed += a[i] == i;
  CHECK(fixed < 10);  // a real shuffle moves nearly everything
  uint64_t one = 7;
  shuffle(&one, 1, w.data());
  CHECK(one == 7);
}
