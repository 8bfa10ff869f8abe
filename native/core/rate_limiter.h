// replaykit core: the rate limiter between actors (inserts) and the learner (samples).
//
// Semantics: Reverb's RateLimiter (reverb/cc/rate_limiter.{h,cc}, reverb/rate_limiters.py),
// with items as the unit: a push of one row counts 1, a pushBatch of n rows counts n, a
// sample of batch size b counts b.
//
//   diff = inserts * samples_per_insert - samples (+ offset, see set_enabled)
//
// * Stage 1, fewer than min_size items inserted: inserts pass, samples wait (MinSize). Reverb
//   counts the table's size (inserts - deletes); a ring buffer only loses items by overwriting,
//   so with capacity >= min_size (the buffer must refuse a larger minSize) items inserted since
//   the last clear() stand for the size, and no delete count is kept.
// * Stage 2: diff is kept within [min_diff, max_diff]. SampleToInsertRatio(spi, min_size,
//   error_buffer) centres that range on spi * min_size (the diff at the end of stage 1), so
//   only what happens after stage 1 is weighed: [spi*min_size - error_buffer,
//   spi*min_size + error_buffer]. MinSize(n) is the special case of an unbounded range.
//
// Batches. Reverb admits one item per call; it decides an insert of n by whether all n fit
// (CanInsert(n)). With batches that rule deadlocks: an insert of m and a sample of n wait on
// each other whenever the range is narrower than m * spi + n, and a batch wider than the range
// never passes at all. So here a call of n items is admitted when its FIRST item would be
// admitted by Reverb's rule (for n = 1 this is Reverb's rule exactly), and all n are counted:
//   insert of n: admitted iff inserts < min_size  or  diff + spi <= max_diff
//   sample of n: admitted iff inserts >= min_size and diff - 1 >= min_diff
// A batch may thus carry diff past a bound by at most (n - 1) * spi (inserts) or n - 1
// (samples); the next call of that side waits until the other side has brought diff back.
// The two sides can never both wait (no deadlock, whatever the batch sizes): inserts wait only
// while diff > max_diff - spi, samples only while diff < min_diff + 1, and the validity rule
// max_diff - min_diff >= 2 * max(1, spi) >= spi + 1 makes both at once impossible.
//
// Who calls what:
// * The synchronous push / pushBatch / sample never wait: they call on_insert / on_sample,
//   which count unconditionally (so existing code keeps working; the limiter only counts it).
// * Native threads (writer threads, the prefetch thread) call acquire_insert / acquire_sample:
//   block on a mutex + condition variable until admitted, a deadline on the limiter's clock,
//   a CancelToken, or cancel_all(). Admission and counting are one step under the lock (a
//   grant is a commit), so two threads can never both spend the same allowance.
// * JavaScript must not block its thread. pushAsync / sampleAsync call wait_async, which
//   either decides at once (Granted, or Closed) or registers a waiter and returns its id. The
//   waiter is granted (and counted) later, under the lock, by whichever thread changes the
//   counters in a way that admits it (another writer's insert, the learner's sample, restore,
//   set_enabled) or ends with Closed at cancel_all(); its callback then runs on that thread,
//   after the lock is released. The binding's callback only hands the result to a
//   Napi::ThreadSafeFunction (NonBlockingCall), whose JS side resolves the promise on the
//   event loop: no JS runs on a foreign thread and no thread is parked per promise. A timeout
//   (setTimeout) or an AbortSignal calls cancel_wait(id): true means the waiter was removed
//   before any grant, nothing was counted and the callback will never run, so the promise
//   rejects with RateLimitError and nothing changed; false means the grant or close was
//   already decided and the callback has run or is about to, so the promise settles with it.
//   (A polled sequence number was the alternative; it costs a timer tick of latency per wake
//   and cannot commit the grant atomically, so two pollers could both spend one allowance.)
// * Waiters of a side are served first come, first served: try_* and new waiters do not
//   barge past queued ones. The synchronous on_* calls are not queued (they never wait).
//
// Grants count inserts before the rows are written and published; a sampler admitted on that
// count draws only rows already published, which lag the count by at most the rows being
// written at that moment.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace replaykit {

// The limiter's time source, in nanoseconds on a monotonic scale. Injectable so that tests can
// drive deadlines with a ManualClock instead of sleeping.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t now_ns() const = 0;
  // Blocks on `cv` (`lock` held on entry and on return) until notified or until the clock may
  // have reached deadline_ns. Spurious returns are allowed: callers re-check.
  virtual void wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                          int64_t deadline_ns) const = 0;
  // A clock that moves by itself needs no wakers. One moved by hand (ManualClock) calls each
  // registered waker after it moves, so that sleepers see their deadlines pass.
  virtual uint64_t add_waker(std::function<void()> /*wake*/) { return 0; }
  virtual void remove_waker(uint64_t /*id*/) {}
};

// std::chrono::steady_clock.
class SteadyClock final : public Clock {
 public:
  int64_t now_ns() const override;
  void wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                  int64_t deadline_ns) const override;
  static std::shared_ptr<Clock> shared();
};

// A clock that moves only when told to (tests). advance() wakes every limiter using it.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ns = 0) : now_(start_ns) {}
  int64_t now_ns() const override { return now_.load(std::memory_order_acquire); }
  void wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                  int64_t deadline_ns) const override;
  uint64_t add_waker(std::function<void()> wake) override;
  void remove_waker(uint64_t id) override;
  void advance(int64_t ns);

 private:
  std::atomic<int64_t> now_;
  // Held while wakers run, so remove_waker returns only once no call of that waker is running.
  // Lock order: this mutex, then a limiter's.
  std::mutex mu_;
  std::vector<std::pair<uint64_t, std::function<void()>>> wakers_;
  uint64_t next_id_ = 1;
};

// Cancels blocking waits from another thread (the buffer's close, a stopping prefetch loop).
// One token may serve several waits, on several limiters or other condition variables: each
// wait registers a waker for its duration.
class CancelToken {
 public:
  // Idempotent. Runs every registered waker once, on the calling thread.
  void cancel();
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }
  // Registers `wake` to run at cancel(); returns 0 without registering when already cancelled.
  // `wake` must not call back into this token. Lock order: this token's mutex, then whatever
  // `wake` locks; so never call add_waker/remove_waker while holding a lock `wake` takes.
  uint64_t add_waker(std::function<void()> wake);
  // After it returns, `wake` is not running and will not run.
  void remove_waker(uint64_t id);

 private:
  std::atomic<bool> cancelled_{false};
  std::mutex mu_;
  std::vector<std::pair<uint64_t, std::function<void()>>> wakers_;
  uint64_t next_id_ = 1;
};

enum class RateSide { Insert, Sample };

enum class WaitResult {
  Granted,    // admitted and counted
  TimedOut,   // the deadline passed first; nothing counted
  Cancelled,  // the CancelToken fired (or cancel_wait); nothing counted
  Closed,     // cancel_all(): the buffer is closing; nothing counted
};
const char* to_string(WaitResult r);

constexpr int64_t kNoDeadline = std::numeric_limits<int64_t>::max();

// Configuration, as saved in archives. min_diff / max_diff are +-infinity for MinSize.
struct RateLimiterConfig {
  double samples_per_insert = 1.0;
  uint64_t min_size = 1;
  double min_diff = -std::numeric_limits<double>::infinity();
  double max_diff = std::numeric_limits<double>::infinity();
};

// Counters, as saved in archives and shown as stats. inserts and samples are items; a "wait"
// is a call that was not admitted at once (whatever its end), and *_wait_ns is the time such
// calls spent waiting, summed over calls (concurrent waits add up, as in Reverb).
struct RateLimiterCounters {
  uint64_t inserts = 0;
  uint64_t samples = 0;
  uint64_t insert_waits = 0;
  uint64_t sample_waits = 0;
  uint64_t insert_wait_ns = 0;
  uint64_t sample_wait_ns = 0;
  // Added to diff; set by set_enabled(true) after a disabled spell, otherwise 0.
  double offset = 0.0;
};

class RateLimiter {
 public:
  // Reverb's general form. Throws Error(Range) (see the .cpp for each rule and its source).
  RateLimiter(const RateLimiterConfig& config, std::shared_ptr<Clock> clock = SteadyClock::shared());
  // cancel_all(): pending async callbacks run with Closed (and must not call back into the
  // limiter then). No thread may still be inside a method of the limiter.
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Reverb's rate_limiters.MinSize(min_size_to_sample): samples wait for min_size items.
  static RateLimiterConfig min_size(uint64_t min_size);
  // Reverb's rate_limiters.SampleToInsertRatio with a scalar error_buffer.
  static RateLimiterConfig sample_to_insert_ratio(double samples_per_insert, uint64_t min_size,
                                                  double error_buffer);
  // The JS option `rateLimiter: { minSize, samplesPerInsert?, errorBuffer? }`, decided here so
  // the rule has one owner: minSize alone is MinSize; with samplesPerInsert, a missing
  // errorBuffer defaults to max(0.1 * samplesPerInsert * minSize, 2 * max(1, samplesPerInsert)):
  // the 10% tolerance of DeepMind Acme's agents (error_buffer = min_replay_size *
  // samples_per_insert_tolerance_rate * samples_per_insert), raised to twice Reverb's least valid
  // value so that small minSize still leaves room. errorBuffer without samplesPerInsert is
  // refused (a ratio needs its rate).
  static RateLimiterConfig from_options(uint64_t min_size, std::optional<double> samples_per_insert,
                                        std::optional<double> error_buffer);
  // Throws Error(Range) when `config` is not valid; the constructor calls it.
  static void validate(const RateLimiterConfig& config);

  const RateLimiterConfig& config() const { return config_; }

  // The rule alone, on the current counters (ignores queued waiters). n = 0 is always true;
  // otherwise n does not change the answer (the first item decides).
  bool can_insert(uint64_t n) const;
  bool can_sample(uint64_t n) const;

  // Count n items unconditionally: the synchronous push / pushBatch / sample, which never wait.
  void on_insert(uint64_t n);
  void on_sample(uint64_t n);

  // Admit and count n items if the rule allows it now and no waiter of that side is queued.
  bool try_insert(uint64_t n);
  bool try_sample(uint64_t n);

  // Block until admitted (counted), deadline_ns on the limiter's clock passes, `cancel` fires,
  // or cancel_all(). n = 0 is granted at once and counts nothing. `cancel` may be null.
  WaitResult acquire_insert(uint64_t n, int64_t deadline_ns = kNoDeadline,
                            CancelToken* cancel = nullptr);
  WaitResult acquire_sample(uint64_t n, int64_t deadline_ns = kNoDeadline,
                            CancelToken* cancel = nullptr);

  // Non-blocking wait for the event loop. If decided at once (Granted and counted, or Closed),
  // returns {false, result, 0} and never calls `done`. Otherwise returns {true, -, id}: `done`
  // runs exactly once, with Granted (counted) or Closed, on the thread that decided it, outside
  // the lock; unless cancel_wait(id) returns true first. `done` must not throw (an exception is
  // swallowed: it could only crash the thread that happened to grant) and must not block on
  // this limiter's waiters; it may call any method of this limiter. n = 0 is granted at once.
  using WaitCallback = std::function<void(WaitResult)>;
  struct AsyncWait {
    bool pending;
    WaitResult result;  // when !pending
    uint64_t id;        // when pending
  };
  AsyncWait wait_async(RateSide side, uint64_t n, WaitCallback done);
  // true: the waiter was still queued; it is removed, nothing counted, `done` never runs.
  // false: unknown id, or already decided (`done` has run or is running).
  bool cancel_wait(uint64_t id);

  // Wake every waiter with Closed, now and for every later acquire_* / wait_async / try_*
  // (try_* returns false). on_* still count. Idempotent.
  void cancel_all();
  bool closed() const;

  // Disabled: every call is admitted at once (and counted in the totals), e.g. to prefill a
  // buffer from an offline dataset (Reverb issue 134). Re-enabling restarts the ratio at its
  // equilibrium: offset is set so that diff = spi * min_size, the centre of the range.
  void set_enabled(bool enabled);
  bool enabled() const;

  // The buffer was emptied: inserts, samples and offset go back to 0 (Reverb's Reset); the wait
  // counters are kept. Samples wait again for min_size items.
  void clear();

  RateLimiterCounters counters() const;
  double diff() const;  // inserts * spi - samples + offset
  // Loads counters from an archive. Throws Error(Range) for a non-finite offset. Waiters that
  // the new counters admit are granted.
  void restore(const RateLimiterCounters& counters);

  // Waiters queued now, per side (tests, stats).
  size_t waiting(RateSide side) const;

 private:
  struct Waiter {
    RateSide side;
    uint64_t n;
    int64_t start_ns;
    WaitCallback done;  // empty for a blocking waiter
    uint64_t id = 0;    // async waiters only
    enum class State { Pending, Granted, Closed } state = State::Pending;
  };
  using Callbacks = std::vector<std::pair<WaitCallback, WaitResult>>;

  bool admits(RateSide side) const;          // mu_ held
  void commit(RateSide side, uint64_t n);    // mu_ held
  void end_wait(const Waiter& w, int64_t now);  // mu_ held: adds the time waited
  // Grants queued waiters the counters now admit, in order, on both sides. mu_ held; returns
  // whether a blocking waiter was granted; async callbacks are appended to `out`.
  bool pump(Callbacks& out);
  void remove_queued(Waiter* w);             // mu_ held
  // Releases `lock`, notifies blocking waiters if needed, then runs callbacks.
  void finish(std::unique_lock<std::mutex>& lock, bool notify, Callbacks& cbs);
  void count(RateSide side, uint64_t n);     // mu_ held; checks overflow
  WaitResult acquire(RateSide side, uint64_t n, int64_t deadline_ns, CancelToken* cancel);
  bool try_acquire(RateSide side, uint64_t n);

  const RateLimiterConfig config_;
  const std::shared_ptr<Clock> clock_;
  uint64_t clock_waker_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // blocking waiters: granted, closed, cancelled, or time moved
  RateLimiterCounters c_;
  bool enabled_ = true;
  bool closed_ = false;
  std::deque<Waiter*> queue_[2];  // per side, first come first served
  std::unordered_map<uint64_t, std::unique_ptr<Waiter>> async_;
  uint64_t next_async_id_ = 1;
};

}  // namespace replaykit
