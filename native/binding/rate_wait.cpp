// RateWaits: JS promises waiting on a core RateLimiter (design and lifetimes in rate_wait.h).
#include "rate_wait.h"

#include <mutex>
#include <thread>
#include <unordered_map>

#include "error.h"

namespace replaykit_node {

using replaykit::ErrorKind;
using replaykit::fail;
using replaykit::WaitResult;

// What the core's callbacks (any thread) share with the JS thread. `tsfn` and `table` are
// cleared by the thread-safe function's finalizer, under `mu`.
struct RateWaits::Link {
  std::mutex mu;
  napi_threadsafe_function tsfn = nullptr;
  Table* table = nullptr;
  // The environment's own thread, and its deliveries on their way (that thread only): see
  // "Keeping the loop alive" below.
  napi_env env = nullptr;
  std::thread::id js_thread;
  int own_in_flight = 0;
};

// Owned by the thread-safe function (its context, deleted by its finalizer); JS thread only.
struct RateWaits::Table {
  std::shared_ptr<Link> link;
  std::unordered_map<uint64_t, Napi::FunctionReference> done;  // queued waits by id
  bool closing = false;
  bool released = false;

  // Releases the thread-safe function once closing and every wait is delivered or cancelled.
  void maybe_release() {
    if (!closing || released || !done.empty()) return;
    released = true;
    napi_release_threadsafe_function(link->tsfn, napi_tsfn_release);
  }
};

namespace {

// The id is a box filled on the JS thread once wait_async returns, and read on the JS thread
// by the delivery: a foreign thread may decide the wait before the box is filled, but the
// delivery runs on the event loop, after the wait() that fills it has returned.
struct Delivery {
  std::shared_ptr<uint64_t> id;
  WaitResult result;
  bool own = false;  // decided on the environment's own thread, which ref'd the function for it
};

// Keeping the loop alive. The thread-safe function is unref'd, so a wait alone does not keep
// the process alive. But a delivery must not be lost to a loop that exits first: one decided
// on this environment's own thread (its push granted a waiting sampleAsync) refs the function
// until it is delivered, since nothing else may be keeping the loop alive then. A delivery
// decided on another thread comes from a worker (whose Worker handle keeps this loop alive
// while it runs) or a native thread of this buffer, which holds its own handle.

}  // namespace

RateWaits::RateWaits(std::shared_ptr<replaykit::RateLimiter> limiter) : limiter_(std::move(limiter)) {}

RateWaits::~RateWaits() { close(); }

double RateWaits::wait(Napi::Env env, replaykit::RateSide side, uint64_t n, Napi::Function done) {
  if (closed_) fail(ErrorKind::State, "the buffer is closed");
  if (!link_) {
    link_ = std::make_shared<Link>();
    auto* table = new Table{link_, {}, false, false};
    // Runs on the JS thread for each delivery; env is null when the function is being torn
    // down with deliveries still queued (environment teardown), which are then only freed.
    auto call_js = [](napi_env e, napi_value, void* context, void* data) {
      std::unique_ptr<Delivery> d(static_cast<Delivery*>(data));
      if (e == nullptr) return;
      auto* t = static_cast<Table*>(context);
      if (d->own && --t->link->own_in_flight == 0) napi_unref_threadsafe_function(e, t->link->tsfn);
      auto it = t->done.find(*d->id);
      if (it == t->done.end()) return;  // cannot happen: a wait is delivered once
      Napi::FunctionReference fn = std::move(it->second);
      t->done.erase(it);
      Napi::Env env(e);
      napi_value arg = Napi::String::New(env, d->result == WaitResult::Granted ? "granted" : "closed");
      napi_value ignored;
      // The facade's `done` settles a promise and catches its own errors; an exception from it
      // anyway is dropped here rather than thrown into the event loop.
      if (napi_call_function(e, env.Undefined(), fn.Value(), 1, &arg, &ignored) == napi_pending_exception) {
        napi_value exc;
        napi_get_and_clear_last_exception(e, &exc);
      }
      t->maybe_release();
    };
    auto finalize = [](napi_env, void* data, void*) {
      auto* t = static_cast<Table*>(data);
      {
        std::lock_guard<std::mutex> g(t->link->mu);
        t->link->tsfn = nullptr;
        t->link->table = nullptr;
      }
      delete t;
    };
    napi_value name = Napi::String::New(env, "replaykit rate limiter");
    napi_threadsafe_function tsfn = nullptr;
    if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, table, finalize, table, call_js, &tsfn) != napi_ok) {
      delete table;
      link_.reset();
      fail(ErrorKind::State, "cannot make the thread-safe function the rate limiter's waits need");
    }
    napi_unref_threadsafe_function(env, tsfn);
    link_->tsfn = tsfn;
    link_->table = table;
    link_->env = env;
    link_->js_thread = std::this_thread::get_id();
  }
  Table* table = link_->table;
  if (!table) fail(ErrorKind::State, "the buffer's environment is shutting down");
  std::shared_ptr<Link> link = link_;
  auto id_box = std::make_shared<uint64_t>(0);
  const auto w = limiter_->wait_async(side, n, [link, id_box](WaitResult r) {
    std::lock_guard<std::mutex> g(link->mu);
    if (!link->tsfn) return;  // the environment is gone: nobody to tell
    auto* d = new Delivery{id_box, r};
    d->own = std::this_thread::get_id() == link->js_thread;
    if (d->own && link->own_in_flight++ == 0) napi_ref_threadsafe_function(link->env, link->tsfn);
    if (napi_call_threadsafe_function(link->tsfn, d, napi_tsfn_nonblocking) != napi_ok) {
      if (d->own && --link->own_in_flight == 0) napi_unref_threadsafe_function(link->env, link->tsfn);
      delete d;
    }
  });
  if (!w.pending) return w.result == WaitResult::Granted ? 0.0 : -1.0;
  *id_box = w.id;
  table->done.emplace(w.id, Napi::Persistent(done));
  return static_cast<double>(w.id);
}

bool RateWaits::cancel(uint64_t id) {
  if (!link_ || !link_->table) return false;
  Table* table = link_->table;
  if (table->done.find(id) == table->done.end()) return false;
  if (!limiter_->cancel_wait(id)) return false;  // decided: its delivery is on its way
  table->done.erase(id);
  table->maybe_release();
  return true;
}

void RateWaits::close() {
  if (closed_) return;
  closed_ = true;
  if (!link_ || !link_->table) return;
  link_->table->closing = true;
  link_->table->maybe_release();
}

}  // namespace replaykit_node
