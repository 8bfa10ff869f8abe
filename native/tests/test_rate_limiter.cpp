// The rate limiter: Reverb's rules against a plain integer model, boundaries, blocking waits
// released from other threads, deadlines on a manual clock, cancellation, close, the
// event-loop waiters, and many threads at once (also run under ThreadSanitizer).
#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <future>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "error.h"
#include "rate_limiter.h"

using namespace replaykit;

namespace {

// Spins (yielding) until `done()`; the tests use it to wait for another thread to reach a
// state, never to measure time.
template <class F>
void until(F done) {
  while (!done()) std::this_thread::yield();
}

std::string range_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::Range);
    return e.what();
  }
  FAIL("expected Error(Range)");
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The rule written out plainly in integers: samples_per_insert = p / q, and every diff is kept
// multiplied by q, so the model shares no floating-point arithmetic with the limiter. It
// applies Reverb's CanInsert(1) / CanSample(1) to the first item of a call and counts all n.
struct Model {
  int64_t p, q;
  uint64_t min_size;
  bool bounded;
  int64_t lo_q, hi_q;  // min_diff * q, max_diff * q
  uint64_t inserts = 0, samples = 0;

  // SampleToInsertRatio(p/q, min_size, eb_q/q).
  static Model ratio(int64_t p, int64_t q, uint64_t min_size, int64_t eb_q) {
    const int64_t centre_q = p * int64_t(min_size);
    return Model{p, q, min_size, true, centre_q - eb_q, centre_q + eb_q};
  }
  static Model min_only(uint64_t min_size) { return Model{1, 1, min_size, false, 0, 0}; }

  RateLimiterConfig config() const {
    if (!bounded) return RateLimiter::min_size(min_size);
    return RateLimiter::sample_to_insert_ratio(double(p) / double(q), min_size, double(hi_q - p * int64_t(min_size)) / double(q));
  }
  int64_t diff_q() const { return int64_t(inserts) * p - int64_t(samples) * q; }
  bool can_insert() const {
    if (inserts < min_size) return true;
    return !bounded || int64_t(inserts + 1) * p - int64_t(samples) * q <= hi_q;
  }
  bool can_sample() const {
    if (inserts < min_size) return false;
    return !bounded || int64_t(inserts) * p - int64_t(samples + 1) * q >= lo_q;
  }
};

void check_same(const RateLimiter& rl, const Model& m) {
  const auto c = rl.counters();
  REQUIRE(c.inserts == m.inserts);
  REQUIRE(c.samples == m.samples);
  REQUIRE(rl.diff() == double(m.diff_q()) / double(m.q));
  REQUIRE(rl.can_insert(1) == m.can_insert());
  REQUIRE(rl.can_sample(1) == m.can_sample());
}

}  // namespace

TEST_CASE("configurations: Reverb's validity rules, with clear errors") {
  // min_size_to_sample >= 1 (reverb/rate_limiters.py raises for < 1).
  CHECK(contains(range_error([] { RateLimiter::min_size(0); }), "minSize"));
  CHECK(contains(range_error([] { RateLimiter::sample_to_insert_ratio(1, 0, 5); }), "minSize"));
  // error_buffer 0, and anything narrower than max(1, spi) each side, is refused.
  CHECK(contains(range_error([] { RateLimiter::sample_to_insert_ratio(1, 10, 0); }), "errorBuffer"));
  CHECK(contains(range_error([] { RateLimiter::sample_to_insert_ratio(1, 10, 0.999); }), "max(1, samplesPerInsert) = 1"));
  CHECK(contains(range_error([] { RateLimiter::sample_to_insert_ratio(0.25, 10, 0.99); }), "= 1"));
  CHECK(contains(range_error([] { RateLimiter::sample_to_insert_ratio(4, 10, 3.99); }), "= 4"));
  CHECK(contains(range_error([] { RateLimiter::sample_to_insert_ratio(4, 10, -5); }), "errorBuffer"));
  CHECK(contains(range_error([] { RateLimiter::sample_to_insert_ratio(1, 10, std::nan("")); }), "errorBuffer"));
  CHECK(contains(range_error([] { RateLimiter::sample_to_insert_ratio(1, 10, INFINITY); }), "errorBuffer"));
  // The least error_buffer passes, for spi below and above 1.
  CHECK_NOTHROW(RateLimiter::sample_to_insert_ratio(1, 10, 1));
  CHECK_NOTHROW(RateLimiter::sample_to_insert_ratio(0.25, 10, 1));
  CHECK_NOTHROW(RateLimiter::sample_to_insert_ratio(4, 10, 4));
  // An error_buffer wider than spi * min_size is valid (min_diff goes negative), as in Reverb.
  const auto wide = RateLimiter::sample_to_insert_ratio(0.5, 2, 100);
  CHECK(wide.min_diff == -99);
  CHECK(wide.max_diff == 101);
  // samples_per_insert must be a finite number > 0.
  for (double spi : {0.0, -1.0, std::nan(""), double(INFINITY)})
    CHECK(contains(range_error([=] { RateLimiter::sample_to_insert_ratio(spi, 10, 5); }), "samplesPerInsert"));
  // The general form: Reverb's width rule, its "above the centre" error, and (stricter than
  // Reverb's warning) a range ending below the centre.
  RateLimiterConfig c;
  c.samples_per_insert = 2;
  c.min_size = 5;  // centre 10
  c.min_diff = 8;
  c.max_diff = 11.5;  // 3.5 wide < 2 * max(1, 2) = 4
  CHECK(contains(range_error([&] { RateLimiter::validate(c); }), "wide"));
  c.min_diff = 10.5, c.max_diff = 20;
  CHECK(contains(range_error([&] { RateLimiter::validate(c); }), "start above"));
  c.min_diff = 0, c.max_diff = 9;
  CHECK(contains(range_error([&] { RateLimiter::validate(c); }), "end below"));
  c.min_diff = 6, c.max_diff = 10;
  CHECK_NOTHROW(RateLimiter::validate(c));
  CHECK_NOTHROW(RateLimiter r(c));
  c.max_diff = std::nan("");
  CHECK_THROWS_AS(RateLimiter r(c), Error);
  // MinSize: spi 1, an unbounded range.
  const auto ms = RateLimiter::min_size(3);
  CHECK(ms.samples_per_insert == 1);
  CHECK(ms.min_size == 3);
  CHECK(std::isinf(ms.min_diff));
  CHECK(std::isinf(ms.max_diff));
}

TEST_CASE("the JS options: minSize alone, a default errorBuffer, errorBuffer without a rate") {
  const auto ms = RateLimiter::from_options(50, std::nullopt, std::nullopt);
  CHECK(ms.min_size == 50);
  CHECK(std::isinf(ms.max_diff));
  const auto big = RateLimiter::from_options(1000, 4.0, std::nullopt);  // 10% of 4000 = 400
  CHECK(big.min_diff == 3600);
  CHECK(big.max_diff == 4400);
  const auto small = RateLimiter::from_options(2, 0.5, std::nullopt);  // floor 2 * max(1, 0.5) = 2
  CHECK(small.min_diff == -1);
  CHECK(small.max_diff == 3);
  const auto given = RateLimiter::from_options(10, 1.0, 3.0);
  CHECK(given.min_diff == 7);
  CHECK(given.max_diff == 13);
  CHECK(contains(range_error([] { RateLimiter::from_options(10, std::nullopt, 3.0); }), "needs rateLimiter.samplesPerInsert"));
  CHECK(contains(range_error([] { RateLimiter::from_options(10, -1.0, std::nullopt); }), "samplesPerInsert"));
  CHECK(contains(range_error([] { RateLimiter::from_options(0, 1.0, std::nullopt); }), "minSize"));
  CHECK(contains(range_error([] { RateLimiter::from_options(10, 1.0, 0.5); }), "errorBuffer"));
}

TEST_CASE("MinSize: inserts always pass, samples wait for min_size items") {
  RateLimiter rl(RateLimiter::min_size(3));
  CHECK_FALSE(rl.can_sample(1));
  CHECK_FALSE(rl.try_sample(1));
  CHECK(rl.try_insert(2));
  CHECK_FALSE(rl.try_sample(1));
  CHECK(rl.try_insert(1));
  CHECK(rl.try_sample(1000));  // no ratio: any amount once 3 are in
  CHECK(rl.try_sample(1000));
  CHECK(rl.try_insert(1000000));
  CHECK(rl.counters().inserts == 1000003);
  CHECK(rl.counters().samples == 2000);
}

TEST_CASE("SampleToInsertRatio(1, 3, 1): the walk along both bounds") {
  RateLimiter rl(RateLimiter::sample_to_insert_ratio(1, 3, 1));  // diff in [2, 4]
  CHECK_FALSE(rl.try_sample(1));  // stage 1
  CHECK(rl.try_insert(1));
  CHECK(rl.try_insert(1));
  CHECK_FALSE(rl.try_sample(1));
  CHECK(rl.try_insert(1));        // 3 inserted: diff 3
  CHECK(rl.try_insert(1));        // 4 -> 4 <= 4
  CHECK_FALSE(rl.try_insert(1));  // would be 5
  CHECK(rl.try_sample(1));        // 3
  CHECK(rl.try_sample(1));        // 2
  CHECK_FALSE(rl.try_sample(1));  // would be 1 < 2
  CHECK(rl.try_insert(1));        // 3
  CHECK(rl.try_sample(1));        // 2
  CHECK(rl.diff() == 2);
  CHECK(rl.counters().inserts == 5);
  CHECK(rl.counters().samples == 3);
}

TEST_CASE("spi below and above 1") {
  SUBCASE("0.25: four inserts buy one sample") {
    RateLimiter rl(RateLimiter::sample_to_insert_ratio(0.25, 4, 1));  // centre 1, diff in [0, 2]
    CHECK(rl.try_insert(4));  // stage 1 (first item at 0 < 4): diff 1
    CHECK(rl.try_sample(1));  // 0
    CHECK_FALSE(rl.try_sample(1));
    for (int i = 0; i < 3; ++i) CHECK(rl.try_insert(1));  // 0.75
    CHECK_FALSE(rl.try_sample(1));                         // would be -0.25
    CHECK(rl.try_insert(1));                               // 1
    CHECK(rl.try_sample(1));
    for (int i = 0; i < 8; ++i) CHECK(rl.try_insert(1));  // 2
    CHECK_FALSE(rl.try_insert(1));
    CHECK(rl.diff() == 2);
  }
  SUBCASE("4: one insert buys four samples") {
    RateLimiter rl(RateLimiter::sample_to_insert_ratio(4, 2, 4));  // centre 8, diff in [4, 12]
    CHECK(rl.try_insert(2));                                        // 8
    for (int i = 0; i < 4; ++i) CHECK(rl.try_sample(1));           // 4
    CHECK_FALSE(rl.try_sample(1));
    CHECK(rl.try_insert(1));  // 8
    CHECK(rl.try_insert(1));  // 12
    CHECK_FALSE(rl.try_insert(1));
    CHECK(rl.try_sample(1));  // 11
    CHECK_FALSE(rl.try_insert(1));  // would be 15
    for (int i = 0; i < 3; ++i) CHECK(rl.try_sample(1));  // 8
    CHECK(rl.try_insert(1));  // 12
  }
}

TEST_CASE("batches: the first item decides, all are counted, and big batches cannot deadlock") {
  RateLimiter rl(RateLimiter::sample_to_insert_ratio(1, 10, 1));  // diff in [9, 11]
  CHECK(rl.try_insert(9));   // stage 1
  CHECK(rl.try_insert(256)); // first item at 9 < 10 items: still stage 1; diff 265
  CHECK_FALSE(rl.try_insert(1));
  CHECK(rl.try_sample(256));  // first item: 264 >= 9; diff 9
  CHECK_FALSE(rl.try_sample(1));
  CHECK(rl.try_insert(256));  // first item: 10 <= 11; diff 265
  CHECK(rl.try_sample(256));  // 9
  // Overshoot is bounded by the batch: a sample of 256 at diff 10 leaves -246 = 9 - 255.
  CHECK(rl.try_insert(1));  // 10
  CHECK(rl.try_sample(256));
  CHECK(rl.diff() == 10 - 256);
  // Now only inserts pass, one at a time, until the first sample item fits again.
  int inserts = 0;
  while (!rl.can_sample(1)) {
    REQUIRE(rl.try_insert(1));
    ++inserts;
  }
  CHECK(inserts == 256);
  CHECK(rl.diff() == 10);
  // n = 0 is always admitted and counts nothing.
  CHECK(rl.try_insert(0));
  CHECK(rl.try_sample(0));
  CHECK(rl.acquire_sample(0, 0) == WaitResult::Granted);
  CHECK(rl.counters().inserts == 9 + 256 + 256 + 1 + 256);
}

TEST_CASE("counts that would overflow are refused and change nothing") {
  RateLimiter rl(RateLimiter::min_size(1));
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  rl.on_insert(max - 1);
  CHECK(contains(range_error([&] { rl.on_insert(2); }), "overflow"));
  CHECK(contains(range_error([&] { rl.acquire_insert(2); }), "overflow"));
  CHECK(contains(range_error([&] { rl.wait_async(RateSide::Insert, 2, [](WaitResult) {}); }), "overflow"));
  CHECK(rl.counters().inserts == max - 1);
  CHECK(rl.try_insert(1));
  CHECK(rl.counters().inserts == max);
}

TEST_CASE("random sequences agree with the integer model") {
  struct Case {
    Model m;
    const char* name;
  };
  const Case cases[] = {
      {Model::ratio(1, 1, 3, 1), "spi 1, min 3, eb 1"},
      {Model::ratio(1, 4, 8, 4), "spi 0.25, min 8, eb 1"},
      {Model::ratio(4, 1, 2, 4), "spi 4, min 2, eb 4"},
      {Model::ratio(3, 2, 5, 5), "spi 1.5, min 5, eb 2.5"},
      {Model::ratio(1, 2, 1, 40), "spi 0.5, min 1, eb 20"},
      {Model::min_only(6), "MinSize 6"},
  };
  for (const auto& cs : cases) {
    for (uint32_t seed : {1u, 2u, 3u, 42u}) {
      CAPTURE(cs.name);
      CAPTURE(seed);
      Model m = cs.m;
      RateLimiter rl(m.config());
      std::mt19937 g(seed);
      std::uniform_int_distribution<int> op(0, 9), small(1, 4), big(1, 30);
      for (int step = 0; step < 3000; ++step) {
        CAPTURE(step);
        const int o = op(g);
        const uint64_t n = uint64_t(o == 9 ? big(g) : small(g));
        switch (o % 5) {
          case 0:
          case 1: {  // try_insert: twice as often as the rest
            const bool want = m.can_insert();
            REQUIRE(rl.try_insert(n) == want);
            if (want) m.inserts += n;
            break;
          }
          case 2: {
            const bool want = m.can_sample();
            REQUIRE(rl.try_sample(n) == want);
            if (want) m.samples += n;
            break;
          }
          case 3:  // the synchronous sample: counted, never refused (rarely, or it dominates)
            if (g() % 8 == 0) rl.on_sample(n), m.samples += n;
            break;
          case 4:
            if (g() % 8 == 0) rl.on_insert(n), m.inserts += n;
            break;
        }
        check_same(rl, m);
      }
    }
  }
}

TEST_CASE("a blocked sample is released by an insert from another thread, and vice versa") {
  RateLimiter rl(RateLimiter::sample_to_insert_ratio(1, 2, 1));  // diff in [1, 3]
  std::promise<WaitResult> sampled;
  std::thread learner([&] { sampled.set_value(rl.acquire_sample(2)); });
  until([&] { return rl.waiting(RateSide::Sample) == 1; });
  CHECK(rl.counters().sample_waits == 1);
  rl.on_insert(1);
  CHECK(rl.waiting(RateSide::Sample) == 1);  // stage 1 still
  rl.on_insert(1);                            // diff 2: the first of 2 items fits
  CHECK(sampled.get_future().get() == WaitResult::Granted);
  learner.join();
  CHECK(rl.counters().samples == 2);  // diff 0: below the range by at most n - 1
  CHECK(rl.diff() == 0);

  rl.on_insert(3);  // diff 3
  std::promise<WaitResult> inserted;
  std::thread actor([&] { inserted.set_value(rl.acquire_insert(5)); });
  until([&] { return rl.waiting(RateSide::Insert) == 1; });
  CHECK(rl.try_sample(1));  // diff 2: 2 + 1 <= 3, the waiter goes
  CHECK(inserted.get_future().get() == WaitResult::Granted);
  actor.join();
  CHECK(rl.counters().inserts == 10);
  CHECK(rl.counters().insert_waits == 1);
}

TEST_CASE("deadlines on a manual clock: outcomes and time waited, with no sleeping") {
  auto clock = std::make_shared<ManualClock>(1000);
  RateLimiter rl(RateLimiter::min_size(1), clock);
  std::promise<WaitResult> r;
  std::thread t([&] { r.set_value(rl.acquire_sample(1, 1000 + 500)); });
  until([&] { return rl.waiting(RateSide::Sample) == 1; });
  clock->advance(499);
  // Still queued: the waiter was woken, saw 1499 < 1500 and went back to sleep. Proven by the
  // insert below granting it (a timed-out waiter would have left the queue and counted nothing).
  auto fut = r.get_future();
  SUBCASE("the insert comes first") {
    rl.on_insert(1);
    CHECK(fut.get() == WaitResult::Granted);
    CHECK(rl.counters().samples == 1);
    CHECK(rl.counters().sample_wait_ns == 499);
  }
  SUBCASE("the deadline comes first") {
    clock->advance(1);
    CHECK(fut.get() == WaitResult::TimedOut);
    CHECK(rl.waiting(RateSide::Sample) == 0);
    rl.on_insert(1);
    CHECK(rl.counters().samples == 0);  // nothing counted for the timed-out call
    CHECK(rl.counters().sample_waits == 1);
    CHECK(rl.counters().sample_wait_ns == 500);
  }
  t.join();
}

TEST_CASE("a deadline already passed: admitted calls still pass, others time out at once") {
  auto clock = std::make_shared<ManualClock>(50);
  RateLimiter rl(RateLimiter::min_size(1), clock);
  CHECK(rl.acquire_sample(1, 0) == WaitResult::TimedOut);
  CHECK(rl.acquire_insert(1, 0) == WaitResult::Granted);
  CHECK(rl.acquire_sample(1, 0) == WaitResult::Granted);
  const auto c = rl.counters();
  CHECK(c.samples == 1);
  CHECK(c.sample_waits == 1);
  CHECK(c.sample_wait_ns == 0);
}

TEST_CASE("a real short timeout ends the wait (outcome only)") {
  RateLimiter rl(RateLimiter::min_size(1));
  const int64_t deadline = SteadyClock().now_ns() + 2'000'000;  // 2 ms
  CHECK(rl.acquire_sample(4, deadline) == WaitResult::TimedOut);
  CHECK(rl.waiting(RateSide::Sample) == 0);
  CHECK(rl.counters().samples == 0);
  rl.on_insert(1);
  CHECK(rl.counters().samples == 0);
}

TEST_CASE("a cancel token ends blocking waits, on several limiters at once") {
  RateLimiter a(RateLimiter::min_size(1)), b(RateLimiter::min_size(1));
  CancelToken stop;
  std::promise<WaitResult> ra, rb;
  std::thread ta([&] { ra.set_value(a.acquire_sample(1, kNoDeadline, &stop)); });
  std::thread tb([&] { rb.set_value(b.acquire_sample(1, kNoDeadline, &stop)); });
  until([&] { return a.waiting(RateSide::Sample) == 1 && b.waiting(RateSide::Sample) == 1; });
  stop.cancel();
  CHECK(ra.get_future().get() == WaitResult::Cancelled);
  CHECK(rb.get_future().get() == WaitResult::Cancelled);
  ta.join();
  tb.join();
  a.on_insert(1);
  CHECK(a.counters().samples == 0);
  // A token already cancelled ends a wait at once, even one that would be granted.
  CHECK(a.acquire_sample(1, kNoDeadline, &stop) == WaitResult::Cancelled);
  stop.cancel();  // idempotent
  CHECK(stop.cancelled());
  CHECK(a.counters().samples == 0);
}

TEST_CASE("cancel_all: every waiter, blocking or async, ends Closed; later calls too") {
  RateLimiter rl(RateLimiter::sample_to_insert_ratio(1, 2, 1));  // diff in [1, 3]
  rl.on_insert(5);  // diff 5: inserts wait
  std::vector<std::thread> ts;
  std::vector<std::promise<WaitResult>> rs(4);
  for (int i = 0; i < 2; ++i) ts.emplace_back([&, i] { rs[i].set_value(rl.acquire_insert(1)); });
  until([&] { return rl.waiting(RateSide::Insert) == 2; });
  std::atomic<int> closed{0}, granted{0};
  auto cb = [&](WaitResult r) { (r == WaitResult::Closed ? closed : granted)++; };
  CHECK(rl.wait_async(RateSide::Insert, 3, cb).pending);
  rl.on_sample(10);  // diff -5: samples wait, and the three inserts go (to -4, -3, 0)
  CHECK(rs[0].get_future().get() == WaitResult::Granted);
  CHECK(rs[1].get_future().get() == WaitResult::Granted);
  CHECK(granted == 1);
  CHECK(rl.diff() == 0);
  for (int i = 2; i < 4; ++i) ts.emplace_back([&, i] { rs[i].set_value(rl.acquire_sample(1)); });
  until([&] { return rl.waiting(RateSide::Sample) == 2; });
  CHECK(rl.wait_async(RateSide::Sample, 1, cb).pending);
  rl.cancel_all();
  for (auto& t : ts) t.join();
  CHECK(rs[2].get_future().get() == WaitResult::Closed);
  CHECK(rs[3].get_future().get() == WaitResult::Closed);
  CHECK(closed == 1);
  CHECK(rl.waiting(RateSide::Sample) == 0);
  CHECK(rl.counters().samples == 10);
  CHECK(rl.closed());
  CHECK(rl.acquire_insert(1) == WaitResult::Closed);
  auto w = rl.wait_async(RateSide::Sample, 1, cb);
  CHECK_FALSE(w.pending);
  CHECK(w.result == WaitResult::Closed);
  CHECK_FALSE(rl.try_insert(1));
  rl.cancel_all();  // idempotent
  CHECK(closed == 1);
}

TEST_CASE("the destructor closes pending async waiters") {
  std::atomic<int> closed{0};
  {
    RateLimiter rl(RateLimiter::min_size(1));
    CHECK(rl.wait_async(RateSide::Sample, 1, [&](WaitResult r) { closed += r == WaitResult::Closed; }).pending);
  }
  CHECK(closed == 1);
}

TEST_CASE("async waiters: granted once, in order, from the thread that admits them") {
  RateLimiter rl(RateLimiter::sample_to_insert_ratio(1, 4, 2));  // diff in [2, 6]
  // Decided at once: no callback.
  auto now = rl.wait_async(RateSide::Insert, 4, [](WaitResult) { FAIL("must not run"); });
  CHECK_FALSE(now.pending);
  CHECK(now.result == WaitResult::Granted);
  CHECK(rl.counters().inserts == 4);
  rl.on_sample(4);  // diff 0: samples wait

  std::mutex mu;
  std::vector<int> order;
  std::vector<std::thread::id> threads;
  auto record = [&](int k) {
    return [&, k](WaitResult r) {
      std::lock_guard<std::mutex> g(mu);
      order.push_back(r == WaitResult::Granted ? k : -k);
      threads.push_back(std::this_thread::get_id());
    };
  };
  auto w1 = rl.wait_async(RateSide::Sample, 1, record(1));
  auto w2 = rl.wait_async(RateSide::Sample, 1, record(2));
  auto w3 = rl.wait_async(RateSide::Sample, 1, record(3));
  REQUIRE(w1.pending);
  REQUIRE(w2.pending);
  REQUIRE(w3.pending);
  CHECK(rl.waiting(RateSide::Sample) == 3);
  CHECK_FALSE(rl.try_sample(1));  // no barging, and not admitted anyway
  CHECK(rl.cancel_wait(w2.id));  // removed: never runs, nothing counted
  CHECK_FALSE(rl.cancel_wait(w2.id));
  std::thread::id actor;
  std::thread t([&] {
    actor = std::this_thread::get_id();
    rl.on_insert(3);  // diff 3: admits one sample (to 2), then none
  });
  t.join();
  CHECK(order == std::vector<int>{1});
  CHECK(threads == std::vector<std::thread::id>{actor});
  CHECK_FALSE(rl.cancel_wait(w1.id));  // already granted
  rl.on_insert(1);                      // diff 3 -> w3 -> 2
  CHECK(order == std::vector<int>{1, 3});
  CHECK(rl.waiting(RateSide::Sample) == 0);
  const auto c = rl.counters();
  CHECK(c.samples == 4 + 2);
  CHECK(c.sample_waits == 3);
  CHECK(rl.diff() == 2);
}

TEST_CASE("a callback may call back into the limiter, and its exceptions are contained") {
  RateLimiter rl(RateLimiter::min_size(2));
  std::atomic<int> ran{0};
  auto w = rl.wait_async(RateSide::Sample, 1, [&](WaitResult) {
    ran++;
    rl.on_insert(1);  // reentrant: the limiter's lock is not held here
    throw std::runtime_error("from a callback");
  });
  REQUIRE(w.pending);
  rl.on_insert(2);
  CHECK(ran == 1);
  CHECK(rl.counters().inserts == 3);
  CHECK(rl.counters().samples == 1);
}

TEST_CASE("disabled: everything passes and is counted; re-enabling restarts the ratio") {
  RateLimiter rl(RateLimiter::sample_to_insert_ratio(1, 100, 10));  // diff in [90, 110]
  rl.set_enabled(false);
  CHECK(rl.try_sample(1));         // even before min_size: the caller prefills deliberately
  CHECK(rl.try_insert(5000));      // an offline dataset
  CHECK(rl.counters().inserts == 5000);
  rl.set_enabled(true);
  CHECK(rl.diff() == 100);  // the range's centre: as if stage 1 had just ended
  CHECK(rl.try_sample(10));
  CHECK(rl.try_insert(20));
  SUBCASE("re-enabled before min_size: stage 1 goes on from where it is") {
    RateLimiter r2(RateLimiter::sample_to_insert_ratio(1, 100, 10));
    r2.set_enabled(false);
    r2.on_insert(40);
    r2.on_sample(7);
    r2.set_enabled(true);
    CHECK(r2.diff() == 40);
    CHECK_FALSE(r2.can_sample(1));
    r2.on_insert(60);
    CHECK(r2.diff() == 100);
  }
  SUBCASE("disabling releases waiters") {
    rl.on_sample(1000);
    std::atomic<int> granted{0};
    REQUIRE(rl.wait_async(RateSide::Sample, 1, [&](WaitResult r) { granted += r == WaitResult::Granted; }).pending);
    rl.set_enabled(false);
    CHECK(granted == 1);
  }
}

TEST_CASE("clear and restore") {
  const auto cfg = RateLimiter::sample_to_insert_ratio(2, 3, 2);  // centre 6, diff in [4, 8]
  RateLimiter rl(cfg);
  rl.on_insert(3);                                          // diff 6
  CHECK(rl.acquire_sample(1, 0) == WaitResult::Granted);    // 5
  CHECK(rl.acquire_sample(4, 0) == WaitResult::Granted);    // first item: 4 >= 4; diff 1
  CHECK(rl.acquire_sample(1, 0) == WaitResult::TimedOut);   // 0 < 4
  const auto saved = rl.counters();
  CHECK(saved.inserts == 3);
  CHECK(saved.samples == 5);
  CHECK(saved.sample_waits == 1);
  rl.clear();  // Reverb's Reset: the ratio starts afresh, the wait counters stay
  auto c = rl.counters();
  CHECK(c.inserts == 0);
  CHECK(c.samples == 0);
  CHECK(c.sample_waits == 1);
  CHECK_FALSE(rl.can_sample(1));
  CHECK(rl.can_insert(1));

  // Loading counters grants the waiters they admit.
  RateLimiter r2(cfg);
  std::atomic<int> granted{0};
  REQUIRE(r2.wait_async(RateSide::Sample, 1, [&](WaitResult r) { granted += r == WaitResult::Granted; }).pending);
  auto more = saved;
  more.inserts = 10;  // diff 20 - 5 = 15
  r2.restore(more);
  CHECK(granted == 1);
  CHECK(r2.counters().samples == 6);
  CHECK(r2.diff() == 14);
  auto bad = more;
  bad.offset = std::nan("");
  CHECK(contains(range_error([&] { r2.restore(bad); }), "offset"));
  CHECK(r2.counters().inserts == 10);  // unchanged
  CHECK(r2.counters().samples == 6);
}

namespace {

// wait_async as the binding will use it, with a future standing in for the promise. The
// callback owns the std::promise: it may still be inside set_value when get() returns.
WaitResult wait_event_loop_style(RateLimiter& rl, RateSide side, uint64_t n) {
  auto p = std::make_shared<std::promise<WaitResult>>();
  auto f = p->get_future();
  auto w = rl.wait_async(side, n, [p](WaitResult x) { p->set_value(x); });
  return w.pending ? f.get() : w.result;
}

struct Bounds {
  double spi, lo, hi;
  uint64_t min_size;
  // With only acquire_* / try_* / wait_async (no on_*), diff never leaves
  // [min_diff - (largest sample - 1), max_diff + (largest insert - 1) * spi], and no sample
  // is ever counted before min_size inserts.
  Bounds(const RateLimiterConfig& c, uint64_t max_insert, uint64_t max_sample)
      : spi(c.samples_per_insert),
        lo(c.min_diff - double(max_sample - 1)),
        hi(c.max_diff + double(max_insert - 1) * c.samples_per_insert),
        min_size(c.min_size) {}
  bool hold(const RateLimiterCounters& c) const {
    const double d = double(c.inserts) * spi - double(c.samples);
    return d >= lo && d <= hi && (c.samples == 0 || c.inserts >= min_size);
  }
};

}  // namespace

TEST_CASE("many threads insert and sample: the range holds at every step, every grant counted once") {
  struct Case {
    RateLimiterConfig cfg;
    const char* name;
  };
  const Case cases[] = {
      {RateLimiter::sample_to_insert_ratio(1, 16, 8), "spi 1"},
      {RateLimiter::sample_to_insert_ratio(0.5, 8, 2), "spi 0.5"},
      {RateLimiter::sample_to_insert_ratio(4, 4, 4), "spi 4, the narrowest range"},
  };
  constexpr uint64_t kMaxInsert = 8, kMaxSample = 16;
  constexpr int kInserters = 3, kSamplers = 2, kCallsPerInserter = 1500;
  for (const auto& cs : cases) {
    CAPTURE(cs.name);
    RateLimiter rl(cs.cfg);
    const Bounds bounds(cs.cfg, kMaxInsert, kMaxSample);
    CancelToken stop;
    std::atomic<uint64_t> inserted{0}, sampled{0};
    std::atomic<int> violations{0};
    auto check = [&] {
      if (!bounds.hold(rl.counters())) violations++;
    };
    std::vector<std::thread> inserters, others;
    for (int t = 0; t < kInserters; ++t)
      inserters.emplace_back([&, t] {
        std::mt19937 g(100 + t);
        for (int k = 0; k < kCallsPerInserter; ++k) {
          const uint64_t n = 1 + g() % kMaxInsert;
          WaitResult r;
          if (t == 0 && k % 3 == 0) {  // the event-loop path, resolved through a future
            r = wait_event_loop_style(rl, RateSide::Insert, n);
          } else if (k % 5 == 0) {
            r = rl.try_insert(n) ? WaitResult::Granted : WaitResult::TimedOut;
          } else {
            r = rl.acquire_insert(n, kNoDeadline, &stop);
          }
          if (r == WaitResult::Granted) inserted += n;
          check();
        }
      });
    for (int t = 0; t < kSamplers; ++t)
      others.emplace_back([&, t] {
        std::mt19937 g(200 + t);
        while (!stop.cancelled()) {
          const uint64_t n = 1 + g() % kMaxSample;
          const WaitResult r = rl.acquire_sample(n, kNoDeadline, &stop);
          if (r == WaitResult::Granted) sampled += n;
          check();
        }
      });
    others.emplace_back([&] {  // an observer between the steps of the others
      while (!stop.cancelled()) check();
    });
    for (auto& t : inserters) t.join();
    stop.cancel();  // the samplers may be waiting for inserts that will not come
    for (auto& t : others) t.join();
    CHECK(violations == 0);
    const auto c = rl.counters();
    CHECK(c.inserts == inserted);
    CHECK(c.samples == sampled);
    CHECK(c.samples > 0);
    CHECK(rl.waiting(RateSide::Insert) == 0);
    CHECK(rl.waiting(RateSide::Sample) == 0);
  }
}

TEST_CASE("cancel_all while many threads wait and run: every one of them ends") {
  RateLimiter rl(RateLimiter::sample_to_insert_ratio(1, 4, 2));
  std::atomic<uint64_t> inserted{0}, sampled{0};
  std::atomic<int> closed_seen{0}, unexpected{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      std::mt19937 g(300 + t);
      for (;;) {
        const uint64_t n = 1 + g() % 4;
        const bool insert = t % 2 == 0;
        WaitResult r;
        if (t == 3) {
          r = wait_event_loop_style(rl, RateSide::Sample, n);
        } else {
          r = insert ? rl.acquire_insert(n) : rl.acquire_sample(n);
        }
        if (r == WaitResult::Closed) {
          closed_seen++;
          return;
        }
        if (r != WaitResult::Granted) unexpected++;
        (insert ? inserted : sampled) += n;
        if (t == 1 && g() % 4 == 0) rl.on_insert(1), inserted += 1;  // a synchronous push
      }
    });
  until([&] { return rl.counters().samples > 2000; });
  rl.cancel_all();
  for (auto& t : ts) t.join();
  CHECK(closed_seen == 4);
  CHECK(unexpected == 0);
  const auto c = rl.counters();
  CHECK(c.inserts == inserted);
  CHECK(c.samples == sampled);
}

TEST_CASE("a manual clock's deadlines for many waiters at once") {
  auto clock = std::make_shared<ManualClock>(0);
  RateLimiter rl(RateLimiter::min_size(1), clock);
  std::vector<std::thread> ts;
  std::vector<std::promise<WaitResult>> rs(6);
  for (int i = 0; i < 6; ++i)
    ts.emplace_back([&, i] { rs[i].set_value(rl.acquire_sample(1, 100 * (i % 2 + 1))); });  // 100 or 200
  until([&] { return rl.waiting(RateSide::Sample) == 6; });
  clock->advance(150);
  until([&] { return rl.waiting(RateSide::Sample) == 3; });  // the three with deadline 100 left
  rl.on_insert(1);                                           // MinSize: the rest are granted
  for (auto& t : ts) t.join();
  for (int i = 0; i < 6; ++i) CHECK(rs[i].get_future().get() == (i % 2 == 0 ? WaitResult::TimedOut : WaitResult::Granted));
  const auto c = rl.counters();
  CHECK(c.samples == 3);
  CHECK(c.sample_waits == 6);
  CHECK(c.sample_wait_ns == 6 * 150);
}
