#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <string>

#include "helpers.h"

using namespace rk_test;

namespace {
std::string temp_path(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/replaykit-test-" + std::to_string(::getpid()) + "-" + name;
}
bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}
using StorageMaker = std::function<std::unique_ptr<Storage>(uint64_t capacity)>;

std::unique_ptr<ReplayBuffer> buffer_on(std::unique_ptr<Storage> s, std::optional<PrioritizedOptions> per) {
  return std::make_unique<ReplayBuffer>(std::move(s), per);
}

// Drives a buffer on `maker`'s storage and one on memory with the same pushes, clears and
// samples, and checks they never differ.
void check_like_memory(const StorageMaker& maker, std::optional<PrioritizedOptions> per) {
  const uint64_t cap = 13;
  auto mem = buffer_on(std::make_unique<MemoryStorage>(small_schema(), cap), per);
  auto other = buffer_on(maker(cap), per);
  std::mt19937 g(7);
  double next_id = 0;
  for (int step = 0; step < 300; ++step) {
    const uint64_t n = 1 + g() % (step % 7 == 0 ? 30 : 5);
    Rows rows(next_id, n);
    next_id += double(n);
    std::vector<double> pr(n);
    for (auto& p : pr) p = 0.1 + double(g() % 1000) / 100;
    const double* pp = per ? pr.data() : nullptr;
    mem->push(rows.cols, n, pp);
    other->push(rows.cols, n, pp);
    if (step % 97 == 96) {
      mem->clear();
      other->clear();
      continue;
    }
    REQUIRE(state_of(*mem) == state_of(*other));
    const uint64_t k = std::min<uint64_t>(mem->length(), 8);
    Batch a = sample_rounds(*mem, k, 2, uint32_t(step));
    Batch b = sample_rounds(*other, k, 2, uint32_t(step));
    CHECK(a.id == b.id);
    CHECK(a.obs == b.obs);
    CHECK(a.keys == b.keys);
    for (uint64_t i = 0; i < 2 * k; ++i) CHECK(b.consistent(i));
  }
}
}  // namespace

TEST_CASE("tiered storage behaves exactly as memory storage, for FIFO and lowest-priority eviction") {
  const std::string path = temp_path("tiered-like-memory");
  for (uint64_t hot : {1ull, 4ull, 12ull}) {
    StorageMaker maker = [&](uint64_t cap) { return std::make_unique<TieredStorage>(small_schema(), cap, hot, path); };
    check_like_memory(maker, std::nullopt);
    PrioritizedOptions fifo;
    check_like_memory(maker, fifo);
    PrioritizedOptions lowest;
    lowest.eviction = Eviction::LowestPriority;
    check_like_memory(maker, lowest);
  }
  CHECK_FALSE(exists(path));
}

TEST_CASE("mmap storage behaves exactly as memory storage") {
  const std::string path = temp_path("mmap-like-memory");
  StorageMaker maker = [&](uint64_t cap) { return std::make_unique<MmapStorage>(small_schema(), cap, path); };
  check_like_memory(maker, std::nullopt);
  PrioritizedOptions lowest;
  lowest.eviction = Eviction::LowestPriority;
  check_like_memory(maker, lowest);
}

TEST_CASE("tiered storage keeps the newest items in RAM and spills the oldest to the file") {
  const std::string path = temp_path("tiered-spill");
  auto storage = std::make_unique<TieredStorage>(small_schema(), 10, 3, path);
  TieredStorage* t = storage.get();
  auto b = buffer_on(std::move(storage), std::nullopt);
  CHECK(exists(path));
  Rows rows(0, 2);
  b->push(rows.cols, 2, nullptr);
  CHECK(t->hot_count() == 2);
  CHECK(t->cold_count() == 0);
  Rows more(2, 5);  // ids 0..6: 4..6 hot, 0..3 cold
  b->push(more.cols, 5, nullptr);
  CHECK(t->hot_count() == 3);
  CHECK(t->cold_count() == 4);
  for (uint64_t s = 0; s < 7; ++s) CHECK(t->is_hot(s) == (s >= 4));
  Rows lap(7, 6);  // ids 7..12 into 10 slots: 0..2 dropped, 10..12 hot
  b->push(lap.cols, 6, nullptr);
  CHECK(b->length() == 10);
  CHECK(t->cold_count() == 7);
  std::vector<uint64_t> keys(10);
  b->keys_in_order(keys.data());
  Batch out(10);
  b->read(keys.data(), 10, out.outs);
  for (uint64_t i = 0; i < 10; ++i) {
    CHECK(out.id[i] == double(3 + i));
    CHECK(out.consistent(i));
  }
  b.reset();
  CHECK_FALSE(exists(path));
}

TEST_CASE("prioritized items keep their priority when they move from RAM to the file") {
  const std::string path = temp_path("tiered-priority");
  PrioritizedOptions o;
  o.alpha = 1.0;
  auto b = buffer_on(std::make_unique<TieredStorage>(small_schema(), 8, 2, path), o);
  Rows rows(0, 8);
  std::vector<double> p = {1, 2, 3, 4, 5, 6, 7, 8};
  b->push(rows.cols, 8, p.data());
  std::vector<uint64_t> keys(8);
  std::vector<double> pr(8);
  b->top(8, keys.data(), pr.data());
  Batch out(8);
  b->read(keys.data(), 8, out.outs);
  for (uint64_t i = 0; i < 8; ++i) CHECK(pr[i] == p[uint64_t(out.id[i])]);  // ids 0..5 are in the file now
}

TEST_CASE("storage files: faults are Storage errors, never crashes") {
  auto kind_of = [](const std::function<void()>& fn) {
    try {
      fn();
    } catch (const Error& e) {
      return int(e.kind());
    }
    return -1;
  };
  CHECK(kind_of([] { TieredStorage(small_schema(), 10, 3, "/nonexistent-dir/x.rkb"); }) == int(ErrorKind::Storage));
  CHECK(kind_of([] { MmapStorage(small_schema(), 10, ""); }) == int(ErrorKind::Storage));
  CHECK(kind_of([] { TieredStorage(small_schema(), 10, 10, temp_path("h")); }) == int(ErrorKind::Range));
  CHECK(kind_of([] { TieredStorage(small_schema(), 10, 0, temp_path("h")); }) == int(ErrorKind::Range));
  CHECK(kind_of([] { MmapStorage(small_schema(), 10, "/tmp"); }) == int(ErrorKind::Storage));  // a directory
  const std::string path = temp_path("in-use");
  {
    MmapStorage first(small_schema(), 10, path);
    CHECK(kind_of([&] { MmapStorage second(small_schema(), 10, path); }) == int(ErrorKind::Storage));
    CHECK(exists(path));  // the refused second buffer did not delete the first one's file
  }
  CHECK_FALSE(exists(path));
  // A file that is not a replaykit storage file is refused and left alone (test_files.cpp
  // covers the whole file contract).
  { FILE* f = std::fopen(path.c_str(), "w"); std::fputs("junk", f); std::fclose(f); }
  CHECK(kind_of([&] { MmapStorage again(small_schema(), 10, path); }) == int(ErrorKind::Storage));
  CHECK(exists(path));
  ::unlink(path.c_str());
}

TEST_CASE("gathers copy fields of every size from 1 to 140 bytes exactly, more than 16 fields at once") {
  // Fields uint8[k] for k = 1 .. 140 (every small-copy path and its boundaries), plus a
  // float64 field: 141 fields, so a gather plans them in several groups of 16.
  std::vector<Field> fields;
  for (int k = 1; k <= 140; ++k) fields.push_back(make_field("f" + std::to_string(k), Dtype::Uint8, {uint32_t(k)}));
  fields.push_back(make_field("x", Dtype::Float64, {3}));
  const Schema schema(fields);
  const uint64_t cap = 50, n = 40;
  for (int tiered = 0; tiered < 2; ++tiered) {
    std::unique_ptr<Storage> storage;
    if (tiered)
      storage = std::make_unique<TieredStorage>(schema, cap, 7, temp_path("gather-sizes"));
    else
      storage = std::make_unique<MemoryStorage>(schema, cap);
    ReplayBuffer rb(std::move(storage), std::nullopt);
    // Row r's byte j of field k is (r * 31 + k * 7 + j) mod 251: no two neighbours alike.
    auto byte_of = [](uint64_t r, int k, int j) { return uint8_t((r * 31 + uint64_t(k) * 7 + uint64_t(j)) % 251); };
    std::vector<std::vector<uint8_t>> cols(140);
    std::vector<double> xs;
    for (int k = 1; k <= 140; ++k)
      for (uint64_t r = 0; r < cap; ++r)
        for (int j = 0; j < k; ++j) cols[k - 1].push_back(byte_of(r, k, j));
    for (uint64_t r = 0; r < cap; ++r)
      for (int j = 0; j < 3; ++j) xs.push_back(double(r) + j / 4.0);
    std::vector<const void*> in;
    for (auto& c : cols) in.push_back(c.data());
    in.push_back(xs.data());
    rb.push(in.data(), cap, nullptr);

    // Outputs with a guard byte after each, to catch a copy that writes past its row.
    std::vector<std::vector<uint8_t>> outs(140);
    std::vector<double> xo(3 * n + 1, -1.0);
    std::vector<void*> out_ptrs;
    for (int k = 1; k <= 140; ++k) {
      outs[k - 1].assign(uint64_t(k) * n + 1, 0xee);
      out_ptrs.push_back(outs[k - 1].data());
    }
    out_ptrs.push_back(xo.data());
    out_ptrs[9] = nullptr;  // a skipped field (uint8[10]) stays untouched
    std::vector<uint32_t> words(2 * n);
    std::mt19937 g(11);
    for (auto& w : words) w = g();
    std::vector<uint64_t> keys(n);
    rb.sample(n, words.data(), out_ptrs.data(), keys.data(), nullptr, 0.0);
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t r = keys[i] % cap;
      for (int k = 1; k <= 140; ++k) {
        if (k == 10) continue;
        for (int j = 0; j < k; ++j) REQUIRE(outs[k - 1][i * uint64_t(k) + uint64_t(j)] == byte_of(r, k, j));
      }
      for (int j = 0; j < 3; ++j) REQUIRE(xo[3 * i + uint64_t(j)] == double(r) + j / 4.0);
    }
    for (int k = 1; k <= 140; ++k) CHECK(outs[k - 1].back() == 0xee);
    CHECK(xo.back() == -1.0);
    CHECK(std::count(outs[9].begin(), outs[9].end(), 0xee) == long(outs[9].size()));
  }
}
