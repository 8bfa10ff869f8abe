// The buffer shared by threads (buffer.h, "Threads"): writers on many threads while a learner
// samples and updates priorities. Built and run under ThreadSanitizer too, which checks that
// no row is read while it is written and that the bookkeeping is properly locked.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <thread>

#include <unistd.h>

#include "detmath.h"
#include "helpers.h"
#include "storage.h"

using namespace rk_test;

namespace {

// Row ids that say who wrote them: writer w's row number s has id w * 1e6 + s.
double id_of(int w, uint64_t s) { return double(w) * 1e6 + double(s); }

// Pushes `pushes` batches of 1 .. max_batch rows (sizes drawn from seed w), ids in order.
void write_rows(ReplayBuffer& b, int w, int pushes, uint64_t max_batch, bool priorities) {
  std::mt19937 g(1000 + w);
  uint64_t next = 0;
  for (int i = 0; i < pushes; ++i) {
    const uint64_t n = 1 + g() % max_batch;
    Rows rows(id_of(w, next), n);
    std::vector<double> p(n);
    for (auto& x : p) x = 0.1 + (g() % 1000) / 100.0;
    const uint64_t key = b.push(rows.cols, n, priorities ? p.data() : nullptr);
    // The key returned names the last row, published: reading it gives that row.
    Batch one(1);
    try {
      b.read(&key, 1, one.outs);
      CHECK(one.id[0] == id_of(w, next + n - 1));
    } catch (const Error&) {
      // Overwritten already by other writers (a small ring): stale, never another row.
    }
    next += n;
  }
}

// Samples until `stop`, checking that every row is whole; prioritized: updates what it drew.
uint64_t learn(ReplayBuffer& b, const std::atomic<bool>& stop, uint32_t seed) {
  uint64_t batches = 0;
  std::mt19937 g(seed);
  Batch out(64);
  std::vector<double> deltas(64);
  // At least one batch, also when the writers finish first (a loaded machine may not schedule
  // this thread before they do): the sample path is always exercised.
  while (!stop.load() || batches == 0) {
    if (b.length() < 64) {
      std::this_thread::yield();
      continue;
    }
    auto w = words(64, seed + uint32_t(batches));
    b.sample(64, w.data(), out.outs, out.keys.data(), b.prioritized() ? out.weights.data() : nullptr, 0.5);
    for (uint64_t i = 0; i < 64; ++i)
      if (!out.consistent(i)) FAIL_CHECK("a sampled row is not whole");  // CHECK: no exceptions on threads
    if (b.prioritized()) {
      for (auto& d : deltas) d = (g() % 1000) / 50.0;
      b.update_priorities(out.keys.data(), 64, deltas.data());
    }
    ++batches;
  }
  return batches;
}

// The trees agree with the priorities of the stored items.
void check_trees(const ReplayBuffer& b) {
  double sum = 0, lo = INFINITY;
  for (uint64_t s = 0; s < b.length(); ++s) {
    const double p = b.priority_of_slot(s);
    REQUIRE(std::isfinite(p));
    REQUIRE(p <= b.max_priority());
    sum += det_pow(p, b.alpha());
    lo = std::min(lo, p);
  }
  CHECK(b.total_priority() == doctest::Approx(sum).epsilon(1e-9));
  CHECK(b.min_priority() == lo);
}

}  // namespace

TEST_CASE("writers on many threads: every row is stored once, each writer's rows in its order") {
  for (uint64_t max_batch : {1ull, 40ull, 400ull}) {  // under the lock, and copied outside it
    CAPTURE(max_batch);
    auto b = make_buffer(1 << 18);
    std::vector<std::thread> ts;
    for (int w = 0; w < 4; ++w) ts.emplace_back([&, w] { write_rows(*b, w, 150, max_batch, false); });
    for (auto& t : ts) t.join();
    const uint64_t len = b->length();
    std::vector<uint64_t> pos(len);
    for (uint64_t p = 0; p < len; ++p) pos[p] = p;
    Batch all(len);
    std::vector<uint64_t> keys(len);
    b->read_positions(pos.data(), len, all.outs, keys.data());
    std::map<int, uint64_t> next;  // per writer, the row expected next
    for (uint64_t p = 0; p < len; ++p) {
      REQUIRE(all.consistent(p));
      const int w = int(all.id[p] / 1e6);
      REQUIRE(all.id[p] == id_of(w, next[w]));  // no row lost, none twice, FIFO per writer
      ++next[w];
    }
    CHECK(next.size() == 4);
  }
}

TEST_CASE("a learner sampling while writers overwrite reads whole rows only; priorities stay consistent") {
  for (bool per : {false, true}) {
    CAPTURE(per);
    std::optional<PrioritizedOptions> o;
    if (per) o = PrioritizedOptions{};
    auto b = make_buffer(700, o);
    std::atomic<bool> stop{false};
    std::thread learner([&] { learn(*b, stop, 7); });
    std::vector<std::thread> ts;
    for (int w = 0; w < 3; ++w) ts.emplace_back([&, w] { write_rows(*b, w, 300, 300, per && w == 0); });
    for (auto& t : ts) t.join();
    stop = true;
    learner.join();
    CHECK(b->length() == 700);
    if (per) check_trees(*b);
    // The newest 700 rows are what the ring holds: each writer's rows in its order.
    std::vector<uint64_t> keys(700);
    b->keys_in_order(keys.data());
    Batch all(700);
    b->read(keys.data(), 700, all.outs);
    std::map<int, double> last;
    for (uint64_t p = 0; p < 700; ++p) {
      REQUIRE(all.consistent(p));
      const int w = int(all.id[p] / 1e6);
      if (last.count(w)) REQUIRE(all.id[p] == last[w] + 1);
      last[w] = all.id[p];
    }
  }
}

TEST_CASE("lowest-priority eviction and tiered storage: pushes from many threads take the buffer in turn") {
  PrioritizedOptions lp;
  lp.eviction = Eviction::LowestPriority;
  auto evicting = make_buffer(300, lp);
  auto dir = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp");
  auto tiered = std::make_unique<ReplayBuffer>(
      std::make_unique<TieredStorage>(small_schema(), 300, 50, dir + "/rk-threads-" + std::to_string(::getpid()) + ".tier"),
      PrioritizedOptions{});
  for (ReplayBuffer* b : {evicting.get(), tiered.get()}) {
    std::atomic<bool> stop{false};
    std::thread learner([&] { learn(*b, stop, 11); });
    std::vector<std::thread> ts;
    for (int w = 0; w < 3; ++w) ts.emplace_back([&, w] { write_rows(*b, w, 100, 50, w == 1); });
    for (auto& t : ts) t.join();
    stop = true;
    learner.join();
    CHECK(b->length() == 300);
    check_trees(*b);
  }
}

TEST_CASE("close while writers push and a learner samples: they stop with Error(State), nothing crashes") {
  auto b = make_buffer(500, PrioritizedOptions{});
  std::atomic<int> refused{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> ts;
  for (int w = 0; w < 3; ++w)
    ts.emplace_back([&, w] {
      try {
        write_rows(*b, w, 1000000, 200, false);
      } catch (const Error& e) {
        if (e.kind() == ErrorKind::State) ++refused;
      }
    });
  ts.emplace_back([&] {
    try {
      learn(*b, stop, 3);
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::State) ++refused;
    }
  });
  while (b->length() < 500) std::this_thread::yield();
  b->close();
  for (auto& t : ts) t.join();
  CHECK(refused == 4);
  CHECK(b->closed());
  Rows one(0, 1);
  CHECK_THROWS_AS(b->push(one.cols, 1, nullptr), Error);
  b->close();  // idempotent
}

TEST_CASE("a frozen buffer (an archive being written) holds pushes back until thawed; samples go on") {
  PrioritizedOptions lp;
  lp.eviction = Eviction::LowestPriority;
  for (bool ring : {true, false}) {  // a ring reservation, and a push that takes the buffer whole
    CAPTURE(ring);
    auto b = ring ? make_buffer(100) : make_buffer(100, lp);
    Rows rows(0, 50);
    b->push(rows.cols, 50, nullptr);
    b->freeze();
    std::atomic<bool> done{false};
    std::thread writer([&] {
      Rows more(50, 10);
      b->push(more.cols, 10, nullptr);
      done = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    CHECK_FALSE(done.load());
    CHECK(b->length() == 50);
    Batch out(8);
    auto w = words(8, 1);
    b->sample(8, w.data(), out.outs, out.keys.data(), nullptr, 0);  // does not wait
    CHECK_THROWS_AS(b->clear(), Error);                              // refused, not waiting
    if (!ring) {
      double d = 1;
      CHECK_THROWS_AS(b->update_priorities(out.keys.data(), 1, &d), Error);
    }
    b->thaw();
    writer.join();
    CHECK(done.load());
    CHECK(b->length() == 60);
  }
}
