// NativeWriter: a writer on a buffer made in another environment of this process (a worker
// thread writing into the learner's buffer). It holds the core buffer, found in the registry
// by the handle's id (shared.h), and pushes into it exactly as the buffer's own object does
// (buffer_calls.h); the core lets many threads push while others sample (buffer.h, "Threads").
//
// Contract (lib/native/contract.ts, NativeWriter): new NativeWriter(id, processToken); push,
// rateWait, rateCancel, rateRefund as NativeBuffer's (the buffer's rate limiter counts and
// admits this writer's rows; its waits are delivered on this thread's event loop); length;
// fields (the schema, [{ name, dtype, shape }]); prioritized; limited; episodes; close().
#include <memory>
#include <string>

#include "addon.h"
#include "buffer.h"
#include "buffer_calls.h"
#include "convert.h"
#include "error.h"
#include "errors.h"
#include "rate_wait.h"
#include "shared.h"

namespace replaykit_node {

using replaykit::ErrorKind;
using replaykit::fail;

namespace {

class NativeWriter : public Napi::ObjectWrap<NativeWriter>, public Guarded<NativeWriter> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeWriter",
                       {
                           InstanceMethod("push", &NativeWriter::method<&NativeWriter::Push>),
                           InstanceMethod("close", &NativeWriter::method<&NativeWriter::Close>),
                           InstanceMethod("rateWait", &NativeWriter::method<&NativeWriter::RateWait>),
                           InstanceMethod("rateCancel", &NativeWriter::method<&NativeWriter::RateCancel>),
                           InstanceMethod("rateRefund", &NativeWriter::method<&NativeWriter::RateRefund>),
                           InstanceAccessor("limited", &NativeWriter::method<&NativeWriter::Limited>, nullptr),
                           InstanceAccessor("episodes", &NativeWriter::method<&NativeWriter::Episodes>, nullptr),
                           InstanceAccessor("length", &NativeWriter::method<&NativeWriter::Length>, nullptr),
                           InstanceAccessor("fields", &NativeWriter::method<&NativeWriter::Fields>, nullptr),
                           InstanceAccessor("prioritized", &NativeWriter::method<&NativeWriter::Prioritized>, nullptr),
                       });
  }

  explicit NativeWriter(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeWriter>(info) {
    guard(info.Env(), [&] {
      const double id = to_double(info[0], "the handle's buffer id");
      const double process = to_double(info[1], "the handle's process token");
      if (process != process_token())
        fail(ErrorKind::State,
             "this writer handle belongs to a buffer of another process: writers share a buffer between the "
             "threads of one process (for other processes and machines, see replaykit/redis)");
      Shared shared = find_shared(key_from_js(id));
      buffer_ = shared.buffer;
      limiter_ = shared.limiter;
      if (!buffer_ || buffer_->closed()) fail(ErrorKind::State, "the buffer of this writer handle is closed");
      if (limiter_) waits_ = std::make_unique<RateWaits>(limiter_);
    });
    // A worker that exits lets go of the buffer even if it never closed its writer.
    napi_add_env_cleanup_hook(info.Env(), &NativeWriter::CleanupHook, this);
    hooked_ = true;
  }

  ~NativeWriter() override {
    if (hooked_) napi_remove_env_cleanup_hook(Env(), &NativeWriter::CleanupHook, this);
  }

 private:
  static void CleanupHook(void* self) {
    auto* w = static_cast<NativeWriter*>(self);
    w->hooked_ = false;  // node removes a hook once it has run
    w->buffer_.reset();
    w->waits_.reset();
  }

  replaykit::ReplayBuffer& live() {
    if (!buffer_) fail(ErrorKind::State, "the writer is closed");
    return *buffer_;  // the core refuses calls once the buffer is closed
  }

  Napi::Value Push(const Napi::CallbackInfo& info) { return push_call(info, live(), limiter_.get()); }
  Napi::Value RateWait(const Napi::CallbackInfo& info) {
    live();
    return rate_wait_call(info, waits_.get());
  }
  Napi::Value RateCancel(const Napi::CallbackInfo& info) { return rate_cancel_call(info, waits_.get()); }
  Napi::Value RateRefund(const Napi::CallbackInfo& info) { return rate_refund_call(info, limiter_.get()); }
  Napi::Value Limited(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), limiter_ != nullptr); }
  // The buffer's options never change: reading them needs no lock.
  Napi::Value Episodes(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), live().episode_options().has_value());
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    buffer_.reset();  // never closes the buffer: only the writer's hold on it
    return info.Env().Undefined();
  }

  Napi::Value Length(const Napi::CallbackInfo& info) {
    auto& b = live();
    if (b.closed()) fail(ErrorKind::State, "the buffer is closed");
    return Napi::Number::New(info.Env(), static_cast<double>(b.length()));
  }

  Napi::Value Fields(const Napi::CallbackInfo& info) { return schema_to_js(info.Env(), live().schema()); }

  Napi::Value Prioritized(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), live().prioritized());
  }

  std::shared_ptr<replaykit::ReplayBuffer> buffer_;  // null once closed
  std::shared_ptr<replaykit::RateLimiter> limiter_;  // the buffer's, shared; null without one
  std::unique_ptr<RateWaits> waits_;                 // this thread's waits on it
  bool hooked_ = false;
};

}  // namespace

Napi::Function define_native_writer(Napi::Env env) { return NativeWriter::Define(env); }

}  // namespace replaykit_node
