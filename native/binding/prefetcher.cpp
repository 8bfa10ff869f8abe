// NativePrefetcher: one native thread that gathers the batches of one `batches()` iterator
// (lib/buffer/prefetch.ts) ahead of the learner.
//
// Why a thread of its own, not an AsyncWorker a batch: an AsyncWorker costs the main thread
// about 25 us a batch here (creating the work and its async resource, waking a pool thread),
// more than the gather itself. Here a submission is a copy of the words and a queue push;
// the thread gathers and then sets the batch's status flag (1 done, 2 failed) with a release
// store, which the facade reads with Atomics.load: a learner back from its training step takes
// a finished batch without a turn of the event loop. Only when it finds the batch unfinished
// does it arm a wake-up (a ThreadSafeFunction call; the function is unref'd, so an idle
// prefetcher never keeps the process alive: the facade keeps the loop alive while it waits).
//
// Contract (lib/native/contract.ts, NativePrefetcher):
//   new NativePrefetcher(buffer: number, process: number, wake: () => void, layout: Float64Array,
//          statuses: Int32Array): the buffer as its share() names it (shared.h); layout =
//          [rows, bytes, indices, weights, discount, relabelled, ...one offset a field] in bytes from a
//          batch's start (-1: absent), as the facade's Batches.layout makes it, for every batch
//          of this prefetcher; statuses: the iterator's status flags, one a slot
//   submit(words: Uint32Array(2 rows, + 2 with relabelled: HER), hold: ArrayBuffer, offset, beta: number | undefined,
//          slot): the batch at byte `offset` of `hold` (kept alive meanwhile; consecutive
//          batches may share one); statuses[slot] is its status. Only this call is on the
//          learner's path between two training steps, so it takes five values, not an array a
//          field: the pointers come from the layout
//   arm(statuses, slot) -> boolean: true if `wake` will be called once a batch completes (the
//          status was still 0), false if that batch is already done or failed
//   error(statuses, slot): throws the error of the failed batch of that status
//   close(): stops the thread (after the batch it is gathering); idempotent
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "addon.h"
#include "buffer.h"
#include "buffer_calls.h"
#include "convert.h"
#include "error.h"
#include "errors.h"
#include "shared.h"

namespace replaykit_node {

using replaykit::ErrorKind;
using replaykit::fail;

namespace {

struct Request {
  uint64_t n;
  std::vector<uint32_t> words;
  std::vector<void*> outs;
  double* keys_js;
  float* weights;
  float* discount = nullptr;
  uint8_t* relabelled = nullptr;  // HER: the goals are chosen here, the rewards by the facade on delivery
  std::optional<double> beta;
  int32_t* status;
  // The arrays' memory: alive until dropped on the JS thread. Shared by the requests whose
  // batches the facade carved from one ArrayBuffer (lib/buffer/batches.ts, BatchArena).
  std::shared_ptr<Napi::Reference<Napi::Value>> hold;
  // Set by the thread when it fails:
  ErrorKind kind = ErrorKind::State;
  std::string message;
  bool finished = false;
};

class NativePrefetcher : public Napi::ObjectWrap<NativePrefetcher>, public Guarded<NativePrefetcher> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativePrefetcher",
                       {
                           InstanceMethod("submit", &NativePrefetcher::method<&NativePrefetcher::Submit>),
                           InstanceMethod("arm", &NativePrefetcher::method<&NativePrefetcher::Arm>),
                           InstanceMethod("error", &NativePrefetcher::method<&NativePrefetcher::Error>),
                           InstanceMethod("close", &NativePrefetcher::method<&NativePrefetcher::Close>),
                       });
  }

  explicit NativePrefetcher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativePrefetcher>(info) {
    Napi::Env env = info.Env();
    guard(env, [&] {
      if (to_double(info[1], "process") != process_token()) fail(ErrorKind::State, "a buffer of another process");
      Shared shared = find_shared(key_from_js(to_double(info[0], "buffer")));
      buffer_ = shared.buffer;
      limiter_ = shared.limiter;
      if (!buffer_ || buffer_->closed()) fail(ErrorKind::State, "the buffer is closed");
      if (!info[2].IsFunction()) fail(ErrorKind::State, "NativePrefetcher needs a wake function");
      TakeLayout(env, info[3]);
      size_t slots = 0;
      statuses_data_ = static_cast<int32_t*>(typed_data_any(env, info[4], napi_int32_array, &slots, "statuses"));
      statuses_count_ = slots;
      statuses_ = Napi::Persistent(info[4]);
      wake_ = Napi::ThreadSafeFunction::New(env, info[2].As<Napi::Function>(), "replaykit.prefetch", 0, 1);
      wake_.Unref(env);
      thread_ = std::thread([this] { Run(); });
    });
    napi_add_env_cleanup_hook(env, &NativePrefetcher::CleanupHook, this);
    hooked_ = true;
  }

  ~NativePrefetcher() override {
    if (hooked_) napi_remove_env_cleanup_hook(Env(), &NativePrefetcher::CleanupHook, this);
    Stop();
  }

 private:
  static void CleanupHook(void* self) {
    auto* p = static_cast<NativePrefetcher*>(self);
    p->hooked_ = false;
    p->Stop();
  }

  // Ends the thread and lets go of the requests, their arrays and the wake function.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    wake_.Release();
    requests_.clear();
    spare_.clear();
    last_hold_.reset();
  }

  void Run() {
    std::vector<uint64_t> keys;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      // Idle: poll every kPoll for a while before sleeping until notified, so that a learner
      // submitting a batch per training step never pays the wake-up of a sleeping thread (a
      // futex system call, 15-20 us on these VMs) in its next().
      for (auto idle = std::chrono::steady_clock::now(); !stopping_ && next_ >= requests_.size();) {
        if (std::chrono::steady_clock::now() - idle < kNap) {
          cv_.wait_for(lock, kPoll);
        } else {
          sleeping_ = true;
          cv_.wait(lock, [this] { return stopping_ || next_ < requests_.size(); });
          sleeping_ = false;
        }
      }
      if (stopping_) return;
      Request& r = *requests_[next_++];  // stays put: requests_ holds pointers, and only
      lock.unlock();                    // the JS thread drops finished ones, under the lock
      int32_t outcome = 1;
      try {
        keys.resize(r.n);  // the thread's own scratch: no allocation a batch once grown
        buffer_->sample(r.n, r.words.data(), r.outs.data(), keys.data(), r.weights, r.beta, r.discount, r.relabelled);
        keys_to_js(keys.data(), r.n, r.keys_js);
        if (limiter_) limiter_->on_sample(r.n);  // counted as a synchronous sample is
      } catch (const replaykit::Error& e) {
        outcome = 2;
        r.kind = e.kind();
        r.message = e.what();
      } catch (const std::exception& e) {
        outcome = 2;
        r.message = std::string("replaykit internal error: ") + e.what();
      }
      lock.lock();
      r.finished = true;
      __atomic_store_n(r.status, outcome, __ATOMIC_RELEASE);  // after every byte of the batch
      if (armed_) {
        armed_ = false;
        wake_.NonBlockingCall();
      }
    }
  }

  // The batch layout, checked once: every array inside the batch, aligned for its type (the
  // facade computes it; the binding checks what memory safety needs).
  void TakeLayout(Napi::Env env, Napi::Value v) {
    size_t count = 0;
    const auto* l = static_cast<const double*>(typed_data_any(env, v, napi_float64_array, &count, "layout"));
    const replaykit::Schema& schema = buffer_->schema();
    if (count != 6 + schema.size()) fail(ErrorKind::Shape, "layout: expected " + std::to_string(6 + schema.size()) + " numbers");
    auto whole = [](double d, const char* what) {
      if (!(d >= 0 && d <= 9007199254740992.0 && std::floor(d) == d)) fail(ErrorKind::Range, std::string("layout: bad ") + what);
      return static_cast<uint64_t>(d);
    };
    rows_ = whole(l[0], "rows");
    bytes_ = whole(l[1], "size");
    if (rows_ == 0) fail(ErrorKind::Range, "layout: no rows");
    // An array at `at` (or -1: absent) of `size` bytes aligned to `align`.
    auto place = [&](double at, uint64_t size, uint64_t align, const char* what) -> int64_t {
      if (at == -1) return -1;
      const uint64_t a = whole(at, what);
      if (a % align != 0 || a > bytes_ || size > bytes_ - a) fail(ErrorKind::Range, std::string("layout: ") + what + " outside the batch");
      return static_cast<int64_t>(a);
    };
    indices_at_ = place(l[2], 8 * rows_, 8, "indices");
    if (indices_at_ < 0) fail(ErrorKind::Range, "layout: no indices");
    weights_at_ = place(l[3], 4 * rows_, 4, "weights");
    discount_at_ = place(l[4], 4 * rows_, 4, "discount");
    relabelled_at_ = place(l[5], rows_, 1, "relabelled");
    if (relabelled_at_ >= 0 && !buffer_->her()) fail(ErrorKind::Range, "layout: relabelled on a buffer without her");
    fields_at_.resize(schema.size());
    for (size_t f = 0; f < schema.size(); ++f) {
      const replaykit::Field& fd = schema[f];
      const uint64_t elem = replaykit::dtype_size(fd.dtype);
      fields_at_[f] = place(l[6 + f], rows_ * fd.elems * elem, elem, "a field");
    }
  }

  Napi::Value Submit(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    // A request from the spares when there is one: a submission is on the learner's thread
    // between two training steps, so it allocates nothing once warm (the vectors keep their
    // capacity).
    std::unique_ptr<Request> r;
    if (spare_.empty()) {
      r = std::make_unique<Request>();
    } else {
      r = std::move(spare_.back());
      spare_.pop_back();
    }
    r->n = rows_;
    const uint64_t word_n = 2 * rows_ + (relabelled_at_ >= 0 ? 2 : 0);
    auto* words = static_cast<const uint32_t*>(typed_data(env, info[0], napi_uint32_array, word_n, "random words"));
    r->words.assign(words, words + word_n);
    if (!info[1].IsArrayBuffer()) fail(ErrorKind::State, "submit needs the batch's ArrayBuffer");
    Napi::ArrayBuffer hold = info[1].As<Napi::ArrayBuffer>();
    auto* base = static_cast<uint8_t*>(hold.Data());
    const uint64_t offset = to_count(info[2], "batch offset");
    if (base == nullptr || offset % 8 != 0 || offset > hold.ByteLength() || bytes_ > hold.ByteLength() - offset)
      fail(ErrorKind::Range, "the batch lies outside its ArrayBuffer");
    base += offset;
    r->outs.resize(fields_at_.size());
    for (size_t f = 0; f < fields_at_.size(); ++f) r->outs[f] = fields_at_[f] < 0 ? nullptr : base + fields_at_[f];
    r->keys_js = reinterpret_cast<double*>(base + indices_at_);
    r->weights = weights_at_ < 0 ? nullptr : reinterpret_cast<float*>(base + weights_at_);
    r->discount = discount_at_ < 0 ? nullptr : reinterpret_cast<float*>(base + discount_at_);
    r->relabelled = relabelled_at_ < 0 ? nullptr : base + relabelled_at_;
    r->beta.reset();
    if (!info[3].IsUndefined()) r->beta = to_double(info[3], "beta");
    const uint64_t slot = to_count(info[4], "status slot");
    if (slot >= statuses_count_) fail(ErrorKind::Range, "status slot out of range");
    r->status = statuses_data_ + slot;
    if (!last_hold_ || last_hold_->Value() != info[1])
      last_hold_ = std::make_shared<Napi::Reference<Napi::Value>>(Napi::Persistent(info[1]));
    r->hold = last_hold_;
    r->finished = false;
    r->message.clear();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) fail(ErrorKind::State, "the prefetcher is closed");
      // Drop the requests at the front that finished well (their references are released
      // here, on the JS thread); the thread only looks at requests from next_ on. A failed one
      // stays, for error() to report (the iterator then ends and closes this prefetcher).
      while (!requests_.empty() && requests_.front()->finished && *requests_.front()->status == 1 && next_ > 0) {
        requests_.front()->hold.reset();
        spare_.push_back(std::move(requests_.front()));
        requests_.pop_front();
        --next_;
      }
      requests_.push_back(std::move(r));
      if (!sleeping_) return env.Undefined();  // polling: it will find the request within kPoll
    }
    cv_.notify_one();
    return env.Undefined();
  }

  // &statuses[slot], checked.
  static int32_t* status_at(Napi::Env env, Napi::Value statuses, Napi::Value slot) {
    size_t n = 0;
    auto* s = static_cast<int32_t*>(typed_data_any(env, statuses, napi_int32_array, &n, "statuses"));
    const uint64_t i = to_count(slot, "status slot");
    if (i >= n) fail(ErrorKind::Range, "status slot out of range");
    return s + i;
  }

  Napi::Value Arm(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int32_t* status = status_at(env, info[0], info[1]);
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || __atomic_load_n(status, __ATOMIC_ACQUIRE) != 0) return Napi::Boolean::New(env, false);
    armed_ = true;
    return Napi::Boolean::New(env, true);
  }

  Napi::Value Error(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int32_t* status = status_at(env, info[0], info[1]);
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& r : requests_)
      if (r->status == status && r->finished) fail(r->kind, r->message);
    fail(ErrorKind::State, "no failed batch has this status");
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }

  std::shared_ptr<replaykit::ReplayBuffer> buffer_;
  std::shared_ptr<replaykit::RateLimiter> limiter_;  // null without one
  Napi::ThreadSafeFunction wake_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Request>> requests_;
  std::vector<std::unique_ptr<Request>> spare_;  // finished requests to reuse (JS thread only)
  Napi::Reference<Napi::Value> statuses_;        // the iterator's statuses, alive while this is
  int32_t* statuses_data_ = nullptr;
  size_t statuses_count_ = 0;
  // The batch layout (TakeLayout): rows, size, and byte offsets from a batch's start (-1: absent).
  uint64_t rows_ = 0, bytes_ = 0;
  int64_t indices_at_ = 0, weights_at_ = -1, discount_at_ = -1, relabelled_at_ = -1;
  std::vector<int64_t> fields_at_;
  std::shared_ptr<Napi::Reference<Napi::Value>> last_hold_;  // the last submission's ArrayBuffer (JS thread only)
  size_t next_ = 0;  // the first request the thread has not taken
  bool sleeping_ = false;  // past kNap idle: waiting to be notified
  static constexpr std::chrono::microseconds kPoll{50};
  static constexpr std::chrono::milliseconds kNap{20};
  bool armed_ = false;
  bool stopping_ = false;
  bool hooked_ = false;
};

}  // namespace

Napi::Function define_native_prefetcher(Napi::Env env) { return NativePrefetcher::Define(env); }

}  // namespace replaykit_node
