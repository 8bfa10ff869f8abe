// replaykit binding: JS promises waiting on a core RateLimiter, from any Napi::Env (the buffer's
// thread, and later the worker threads whose writers share the limiter).
//
// The design is the core's (rate_limiter.h, "JavaScript must not block its thread"): wait()
// asks the limiter with wait_async; a call it cannot admit at once is queued there, and is
// decided later on whichever thread changes the counters (a sample on the learner's thread, an
// insert on a writer's, close). That thread only hands (id, result) to a
// Napi-level thread-safe function (napi_call_threadsafe_function, non-blocking), whose JS side
// calls the wait's `done` on this environment's event loop. No JS runs on a foreign thread, and
// no thread is parked per promise.
//
// Lifetimes. One thread-safe function per RateWaits, made at its first wait and unref'd (a
// pending wait does not keep the process alive, as an unresolved promise does not: a wait
// nobody can release ends with the process, not in a hang), except while a decision made on
// this environment's own thread is on its way (rate_wait.cpp). The `done` functions live in a
// table owned by the thread-safe function, so deliveries still queued when the buffer closes
// reach JS; close() releases it once every wait it registered has had its delivery (the core
// guarantees each queued wait one: granted, or closed by cancel_all). The core's callbacks,
// which may run on any thread at any time, reach the thread-safe function only through a
// mutex-guarded link that its finalizer clears (environment teardown included), so none can
// touch it once freed.
#pragma once
#include <napi.h>

#include <cstdint>
#include <memory>

#include "rate_limiter.h"

namespace replaykit_node {

class RateWaits {
 public:
  explicit RateWaits(std::shared_ptr<replaykit::RateLimiter> limiter);
  ~RateWaits();  // close()
  RateWaits(const RateWaits&) = delete;
  RateWaits& operator=(const RateWaits&) = delete;

  // Admission for n items on `side`: 0 when granted at once (and counted), -1 when the limiter
  // is closed, otherwise the id of a queued wait whose `done` is called once, on this
  // environment's event loop, with 'granted' (counted) or 'closed' (nothing counted), unless
  // cancel(id) returns true first. n = 0 is granted at once.
  double wait(Napi::Env env, replaykit::RateSide side, uint64_t n, Napi::Function done);
  // True: the wait was still queued; it is removed, nothing was counted, `done` is never
  // called. False: already decided; `done` will be called with the decision.
  bool cancel(uint64_t id);
  // No more waits; the thread-safe function goes once the registered waits are delivered.
  // Call cancel_all() on the limiter first so that they all are. Idempotent.
  void close();

 private:
  struct Link;
  struct Table;
  std::shared_ptr<replaykit::RateLimiter> limiter_;
  std::shared_ptr<Link> link_;  // null until the first queued wait
  bool closed_ = false;
};

}  // namespace replaykit_node
