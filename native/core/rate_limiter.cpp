// replaykit core: the rate limiter (semantics and waiting design in rate_limiter.h).
#include "rate_limiter.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>

#include "error.h"

namespace replaykit {

namespace {

size_t idx(RateSide side) { return side == RateSide::Insert ? 0 : 1; }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Clocks and cancellation

int64_t SteadyClock::now_ns() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void SteadyClock::wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                             int64_t deadline_ns) const {
  if (deadline_ns == kNoDeadline) {
    cv.wait(lock);
    return;
  }
  cv.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline_ns)));
}

std::shared_ptr<Clock> SteadyClock::shared() {
  static const std::shared_ptr<Clock> clock = std::make_shared<SteadyClock>();
  return clock;
}

// The sleeper holds its own lock from its deadline check to cv.wait, and a waker takes that
// same lock before notifying, so an advance() between the check and the wait is not lost.
void ManualClock::wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                             int64_t /*deadline_ns*/) const {
  cv.wait(lock);
}

uint64_t ManualClock::add_waker(std::function<void()> wake) {
  std::lock_guard<std::mutex> g(mu_);
  wakers_.emplace_back(next_id_, std::move(wake));
  return next_id_++;
}

void ManualClock::remove_waker(uint64_t id) {
  std::lock_guard<std::mutex> g(mu_);
  wakers_.erase(std::remove_if(wakers_.begin(), wakers_.end(), [&](const auto& w) { return w.first == id; }),
                wakers_.end());
}

void ManualClock::advance(int64_t ns) {
  now_.fetch_add(ns, std::memory_order_acq_rel);
  std::lock_guard<std::mutex> g(mu_);
  for (auto& w : wakers_) w.second();
}

void CancelToken::cancel() {
  std::lock_guard<std::mutex> g(mu_);
  if (cancelled_.load(std::memory_order_acquire)) return;
  cancelled_.store(true, std::memory_order_release);
  // Run under mu_ so that remove_waker, which takes mu_, returns only once this is done.
  for (auto& w : wakers_) w.second();
  wakers_.clear();
}

uint64_t CancelToken::add_waker(std::function<void()> wake) {
  std::lock_guard<std::mutex> g(mu_);
  if (cancelled_.load(std::memory_order_acquire)) return 0;
  wakers_.emplace_back(next_id_, std::move(wake));
  return next_id_++;
}

void CancelToken::remove_waker(uint64_t id) {
  if (id == 0) return;
  std::lock_guard<std::mutex> g(mu_);
  wakers_.erase(std::remove_if(wakers_.begin(), wakers_.end(), [&](const auto& w) { return w.first == id; }),
                wakers_.end());
}

const char* to_string(WaitResult r) {
  switch (r) {
    case WaitResult::Granted: return "granted";
    case WaitResult::TimedOut: return "timed out";
    case WaitResult::Cancelled: return "cancelled";
    case WaitResult::Closed: return "closed";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// Configuration

RateLimiterConfig RateLimiter::min_size(uint64_t min_size) {
  // reverb/rate_limiters.py MinSize: samples_per_insert 1 and an unbounded range, so only the
  // stage-1 rule (samples wait for min_size items) ever applies.
  RateLimiterConfig c;
  c.samples_per_insert = 1.0;
  c.min_size = min_size;
  validate(c);
  return c;
}

RateLimiterConfig RateLimiter::sample_to_insert_ratio(double spi, uint64_t min_size, double error_buffer) {
  if (!(std::isfinite(spi) && spi > 0))
    fail(ErrorKind::Range, "rateLimiter.samplesPerInsert must be a finite number > 0, got " + num(spi));
  // reverb/rate_limiters.py SampleToInsertRatio: max_diff - min_diff must be at least
  // 2 * max(1, samples_per_insert), "as smaller values could completely block samples and/or
  // insert calls"; with a scalar error_buffer the range is 2 * error_buffer wide. Checked here
  // on error_buffer itself, before centre +- error_buffer can round.
  const double least = std::max(1.0, spi);
  if (!(std::isfinite(error_buffer) && error_buffer >= least))
    fail(ErrorKind::Range, "rateLimiter.errorBuffer must be a finite number >= max(1, samplesPerInsert) = " +
                               num(least) + " (a narrower range can block inserts or samples for good), got " +
                               num(error_buffer));
  RateLimiterConfig c;
  c.samples_per_insert = spi;
  c.min_size = min_size;
  // reverb/rate_limiters.py: the range is centred on samples_per_insert * min_size_to_sample,
  // "so that the error tracked ... only takes into account operations occurring AFTER stage 1".
  const double centre = spi * double(min_size);
  c.min_diff = centre - error_buffer;
  c.max_diff = centre + error_buffer;
  validate(c);
  return c;
}

RateLimiterConfig RateLimiter::from_options(uint64_t min_size, std::optional<double> spi,
                                            std::optional<double> error_buffer) {
  if (!spi) {
    if (error_buffer)
      fail(ErrorKind::Range, "rateLimiter.errorBuffer needs rateLimiter.samplesPerInsert (the ratio it bounds)");
    return RateLimiter::min_size(min_size);
  }
  if (!error_buffer) {
    if (!(std::isfinite(*spi) && *spi > 0))  // checked before the default is computed from it
      fail(ErrorKind::Range, "rateLimiter.samplesPerInsert must be a finite number > 0, got " + num(*spi));
    error_buffer = std::max(0.1 * *spi * double(min_size), 2 * std::max(1.0, *spi));
  }
  return sample_to_insert_ratio(*spi, min_size, *error_buffer);
}

void RateLimiter::validate(const RateLimiterConfig& c) {
  // reverb/rate_limiters.py MinSize and SampleToInsertRatio raise for min_size_to_sample < 1 (and
  // rate_limiter.cc CHECKs it is > 0): with 0, samples could be admitted from an empty buffer.
  if (c.min_size < 1) fail(ErrorKind::Range, "rateLimiter.minSize must be an integer >= 1, got 0");
  // Reverb does not check samples_per_insert; here <= 0 would leave diff blind to inserts (the
  // learner starves for good) and NaN or infinity would poison every comparison.
  if (!(std::isfinite(c.samples_per_insert) && c.samples_per_insert > 0))
    fail(ErrorKind::Range,
         "rateLimiter.samplesPerInsert must be a finite number > 0, got " + num(c.samples_per_insert));
  if (std::isnan(c.min_diff) || std::isnan(c.max_diff))
    fail(ErrorKind::Range, "the rate limiter's range must not be NaN");
  const double centre = c.samples_per_insert * double(c.min_size);
  if (!std::isfinite(centre))
    fail(ErrorKind::Range, "rateLimiter.samplesPerInsert * minSize must be finite, got " + num(centre));
  // reverb/rate_limiters.py: max_diff - min_diff >= 2 * max(1, samples_per_insert) (see
  // sample_to_insert_ratio). It is what makes a deadlock impossible here: inserts wait only
  // while diff > max_diff - spi and samples only while diff < min_diff + 1, never both when
  // the range is at least spi + 1 wide. The relative slack absorbs the rounding of
  // centre +- error_buffer, which sample_to_insert_ratio has checked exactly.
  const double least = 2 * std::max(1.0, c.samples_per_insert);
  if (!(c.max_diff - c.min_diff >= least * (1 - 1e-12)))
    fail(ErrorKind::Range, "the rate limiter's range [" + num(c.min_diff) + ", " + num(c.max_diff) +
                               "] must be at least 2 * max(1, samplesPerInsert) = " + num(least) +
                               " wide (a narrower one can block inserts or samples for good)");
  // reverb/rate_limiters.py raises when min_diff > samples_per_insert * min_size_to_sample:
  // "This will result in a deadlock as soon as min_size_to_sample items have been inserted"
  // (diff starts below the range, so samples never pass, and inserts stop at max_diff).
  if (c.min_diff > centre)
    fail(ErrorKind::Range, "the rate limiter's range [" + num(c.min_diff) + ", " + num(c.max_diff) +
                               "] must not start above samplesPerInsert * minSize = " + num(centre) +
                               ": samples would never be admitted");
  // reverb/rate_limiters.py only warns when max_diff < samples_per_insert * min_size_to_sample:
  // once min_size items are in, inserts wait until samples bring diff down, so a caller that
  // inserts and samples on one thread hangs. Refused here: there is no log to warn in, and a
  // silent hang is what Reverb's users reported (issues 4 and 18). (Unreachable through
  // sample_to_insert_ratio, whose error_buffer is >= 1.)
  if (c.max_diff < centre)
    fail(ErrorKind::Range, "the rate limiter's range [" + num(c.min_diff) + ", " + num(c.max_diff) +
                               "] must not end below samplesPerInsert * minSize = " + num(centre) +
                               ": inserts would stop at minSize until the learner samples");
}

// ---------------------------------------------------------------------------------------------
// The limiter

RateLimiter::RateLimiter(const RateLimiterConfig& config, std::shared_ptr<Clock> clock)
    : config_((validate(config), config)), clock_(clock ? std::move(clock) : SteadyClock::shared()) {
  clock_waker_ = clock_->add_waker([this] {
    std::lock_guard<std::mutex> g(mu_);
    cv_.notify_all();
  });
}

RateLimiter::~RateLimiter() {
  cancel_all();
  clock_->remove_waker(clock_waker_);
}

// Reverb's CanInsert(1) / CanSample(1), in Reverb's arithmetic ((inserts + 1) * spi - samples,
// not diff + spi), so that both decide alike to the last bit; see the header for why a call of
// n items is decided by its first item.
bool RateLimiter::admits(RateSide side) const {
  if (!enabled_) return true;
  const double spi = config_.samples_per_insert;
  if (side == RateSide::Insert) {
    if (c_.inserts < config_.min_size) return true;  // stage 1: inserts are free
    return double(c_.inserts + 1) * spi - double(c_.samples) + c_.offset <= config_.max_diff;
  }
  if (c_.inserts < config_.min_size) return false;  // stage 1: samples wait
  return double(c_.inserts) * spi - double(c_.samples + 1) + c_.offset >= config_.min_diff;
}

void RateLimiter::count(RateSide side, uint64_t n) {
  uint64_t& total = side == RateSide::Insert ? c_.inserts : c_.samples;
  if (n > std::numeric_limits<uint64_t>::max() - total)
    fail(ErrorKind::Range, "the rate limiter's item count would overflow");
}

void RateLimiter::commit(RateSide side, uint64_t n) {
  (side == RateSide::Insert ? c_.inserts : c_.samples) += n;
}

void RateLimiter::end_wait(const Waiter& w, int64_t now) {
  const uint64_t waited = now > w.start_ns ? uint64_t(now - w.start_ns) : 0;
  (w.side == RateSide::Insert ? c_.insert_wait_ns : c_.sample_wait_ns) += waited;
}

bool RateLimiter::pump(Callbacks& out) {
  bool notify = false;
  int64_t now = 0;
  bool have_now = false;
  for (bool progress = true; progress;) {
    progress = false;
    for (RateSide side : {RateSide::Insert, RateSide::Sample}) {
      auto& q = queue_[idx(side)];
      while (!q.empty() && admits(side)) {
        if (!have_now) now = clock_->now_ns(), have_now = true;
        Waiter* w = q.front();
        q.pop_front();
        commit(side, w->n);
        end_wait(*w, now);
        if (w->done) {
          out.emplace_back(std::move(w->done), WaitResult::Granted);
          async_.erase(w->id);  // destroys *w
        } else {
          w->state = Waiter::State::Granted;
          notify = true;
        }
        progress = true;  // diff moved: the other side may pass now
      }
    }
  }
  return notify;
}

void RateLimiter::remove_queued(Waiter* w) {
  auto& q = queue_[idx(w->side)];
  q.erase(std::remove(q.begin(), q.end(), w), q.end());
}

void RateLimiter::finish(std::unique_lock<std::mutex>& lock, bool notify, Callbacks& cbs) {
  // Notified under the lock: a woken waiter may return and its owner destroy the limiter, which
  // must not happen while this thread still touches cv_.
  if (notify) cv_.notify_all();
  lock.unlock();
  for (auto& [done, result] : cbs) {
    try {
      done(result);
    } catch (...) {
      // The callback belongs to another waiter; its exception must not unwind (or terminate)
      // the thread that merely happened to grant it.
    }
  }
}

bool RateLimiter::can_insert(uint64_t n) const {
  if (n == 0) return true;
  std::lock_guard<std::mutex> g(mu_);
  return admits(RateSide::Insert);
}

bool RateLimiter::can_sample(uint64_t n) const {
  if (n == 0) return true;
  std::lock_guard<std::mutex> g(mu_);
  return admits(RateSide::Sample);
}

void RateLimiter::on_insert(uint64_t n) {
  std::unique_lock<std::mutex> lock(mu_);
  count(RateSide::Insert, n);
  commit(RateSide::Insert, n);
  Callbacks cbs;
  const bool notify = pump(cbs);
  finish(lock, notify, cbs);
}

void RateLimiter::on_sample(uint64_t n) {
  std::unique_lock<std::mutex> lock(mu_);
  count(RateSide::Sample, n);
  commit(RateSide::Sample, n);
  Callbacks cbs;
  const bool notify = pump(cbs);
  finish(lock, notify, cbs);
}

bool RateLimiter::try_acquire(RateSide side, uint64_t n) {
  if (n == 0) return true;
  std::unique_lock<std::mutex> lock(mu_);
  count(side, n);
  if (closed_ || !queue_[idx(side)].empty() || !admits(side)) return false;
  commit(side, n);
  Callbacks cbs;
  const bool notify = pump(cbs);
  finish(lock, notify, cbs);
  return true;
}

bool RateLimiter::try_insert(uint64_t n) { return try_acquire(RateSide::Insert, n); }
bool RateLimiter::try_sample(uint64_t n) { return try_acquire(RateSide::Sample, n); }

WaitResult RateLimiter::acquire(RateSide side, uint64_t n, int64_t deadline_ns, CancelToken* cancel) {
  if (n == 0) return WaitResult::Granted;
  // Registered before mu_ is taken and removed after it is released: the waker takes mu_, and
  // CancelToken runs wakers under its own mutex (lock order: token, then limiter).
  struct TokenWaker {
    CancelToken* token;
    uint64_t id = 0;
    ~TokenWaker() {
      if (token) token->remove_waker(id);
    }
  } waker{cancel};
  if (cancel)
    waker.id = cancel->add_waker([this] {
      std::lock_guard<std::mutex> g(mu_);
      cv_.notify_all();
    });

  std::unique_lock<std::mutex> lock(mu_);
  count(side, n);
  if (closed_) return WaitResult::Closed;
  if (cancel && cancel->cancelled()) return WaitResult::Cancelled;
  Callbacks cbs;
  if (queue_[idx(side)].empty() && admits(side)) {
    commit(side, n);
    const bool notify = pump(cbs);
    finish(lock, notify, cbs);
    return WaitResult::Granted;
  }
  Waiter w{side, n, clock_->now_ns(), {}};
  ++(side == RateSide::Insert ? c_.insert_waits : c_.sample_waits);
  queue_[idx(side)].push_back(&w);
  WaitResult result;
  for (;;) {
    // A grant (or close) decided by another thread wins over a deadline or a cancel that
    // arrives while this thread sleeps: it has been counted already.
    if (w.state == Waiter::State::Granted) {
      result = WaitResult::Granted;
      break;
    }
    if (w.state == Waiter::State::Closed) {
      result = WaitResult::Closed;
      break;
    }
    const int64_t now = clock_->now_ns();
    if (cancel && cancel->cancelled()) {
      result = WaitResult::Cancelled;
    } else if (now >= deadline_ns) {
      result = WaitResult::TimedOut;
    } else {
      clock_->wait_until(cv_, lock, deadline_ns);
      continue;
    }
    remove_queued(&w);
    end_wait(w, now);
    break;
  }
  // Whoever leaves the queue unserved cannot have been holding others back (admission does not
  // depend on n), but pumping here keeps that true whatever the rule becomes.
  const bool notify = result != WaitResult::Granted && result != WaitResult::Closed && pump(cbs);
  finish(lock, notify, cbs);
  return result;
}

WaitResult RateLimiter::acquire_insert(uint64_t n, int64_t deadline_ns, CancelToken* cancel) {
  return acquire(RateSide::Insert, n, deadline_ns, cancel);
}

WaitResult RateLimiter::acquire_sample(uint64_t n, int64_t deadline_ns, CancelToken* cancel) {
  return acquire(RateSide::Sample, n, deadline_ns, cancel);
}

RateLimiter::AsyncWait RateLimiter::wait_async(RateSide side, uint64_t n, WaitCallback done) {
  if (n == 0) return {false, WaitResult::Granted, 0};
  std::unique_lock<std::mutex> lock(mu_);
  count(side, n);
  if (closed_) return {false, WaitResult::Closed, 0};
  if (queue_[idx(side)].empty() && admits(side)) {
    commit(side, n);
    Callbacks cbs;
    const bool notify = pump(cbs);
    finish(lock, notify, cbs);
    return {false, WaitResult::Granted, 0};
  }
  auto w = std::make_unique<Waiter>(Waiter{side, n, clock_->now_ns(), std::move(done)});
  w->id = next_async_id_++;
  ++(side == RateSide::Insert ? c_.insert_waits : c_.sample_waits);
  queue_[idx(side)].push_back(w.get());
  const uint64_t id = w->id;
  async_.emplace(id, std::move(w));
  return {true, WaitResult::Granted, id};
}

bool RateLimiter::cancel_wait(uint64_t id) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = async_.find(id);
  if (it == async_.end()) return false;
  Waiter* w = it->second.get();
  remove_queued(w);
  end_wait(*w, clock_->now_ns());
  async_.erase(it);
  Callbacks cbs;
  const bool notify = pump(cbs);
  finish(lock, notify, cbs);
  return true;
}

void RateLimiter::cancel_all() {
  std::unique_lock<std::mutex> lock(mu_);
  closed_ = true;
  Callbacks cbs;
  const int64_t now = clock_->now_ns();
  for (auto& q : queue_) {
    for (Waiter* w : q) {
      end_wait(*w, now);
      if (w->done)
        cbs.emplace_back(std::move(w->done), WaitResult::Closed);
      else
        w->state = Waiter::State::Closed;
    }
    q.clear();
  }
  async_.clear();
  finish(lock, true, cbs);
}

bool RateLimiter::closed() const {
  std::lock_guard<std::mutex> g(mu_);
  return closed_;
}

void RateLimiter::set_enabled(bool enabled) {
  std::unique_lock<std::mutex> lock(mu_);
  if (enabled && !enabled_) {
    // Restart the ratio as if the items inserted so far had been stage 1's and none sampled:
    // diff = spi * min(inserts, min_size), which is the range's centre once min_size are in.
    const double spi = config_.samples_per_insert;
    const double target = spi * double(std::min(c_.inserts, config_.min_size));
    c_.offset = target - (double(c_.inserts) * spi - double(c_.samples));
  }
  enabled_ = enabled;
  Callbacks cbs;
  const bool notify = pump(cbs);
  finish(lock, notify, cbs);
}

bool RateLimiter::enabled() const {
  std::lock_guard<std::mutex> g(mu_);
  return enabled_;
}

void RateLimiter::clear() {
  std::unique_lock<std::mutex> lock(mu_);
  c_.inserts = 0;
  c_.samples = 0;
  c_.offset = 0.0;
  Callbacks cbs;
  const bool notify = pump(cbs);
  finish(lock, notify, cbs);
}

RateLimiterCounters RateLimiter::counters() const {
  std::lock_guard<std::mutex> g(mu_);
  return c_;
}

double RateLimiter::diff() const {
  std::lock_guard<std::mutex> g(mu_);
  return double(c_.inserts) * config_.samples_per_insert - double(c_.samples) + c_.offset;
}

void RateLimiter::restore(const RateLimiterCounters& counters) {
  if (!std::isfinite(counters.offset))
    fail(ErrorKind::Range, "the rate limiter's saved offset must be finite, got " + num(counters.offset));
  std::unique_lock<std::mutex> lock(mu_);
  c_ = counters;
  Callbacks cbs;
  const bool notify = pump(cbs);
  finish(lock, notify, cbs);
}

size_t RateLimiter::waiting(RateSide side) const {
  std::lock_guard<std::mutex> g(mu_);
  return queue_[idx(side)].size();
}

}  // namespace replaykit
