// replaykit's Node-API binding: module initialisation. The objects live beside it:
//   buffer_object.cpp    NativeBuffer, the core's ReplayBuffer
//   writer_object.cpp    NativeWriter, a writer on a buffer from another thread (worker actors)
//   prefetcher.cpp       NativePrefetcher, the thread that gathers batches() ahead
//   buffer_calls.cpp     what both do with a core buffer (columns, push, the schema)
//   shared.cpp           the process-wide registry that lets writers find a buffer by id
//   archive_object.cpp   ArchiveMap, an archive mapped read-only (the core's MappedFile)
//   convert.cpp          typed arrays, enums by name, item keys: what crosses the boundary
//   errors.cpp           the one guard: C++ exceptions into the registered JS error classes
//   rate_limiter_js.cpp  the rate limiter's options, configuration and counters as JS values
//   rate_wait.cpp        JS promises waiting on a rate limiter (a thread-safe function per env)
//
// Module exports (lib/native/contract.ts, Addon): NativeBuffer, NativeWriter, NativePrefetcher, ArchiveMap, setErrorClasses(classes),
// limits { maxFields, maxDims, maxNameBytes, maxCapacity, maxEnvStreams }, crc32(bytes, running?),
// rateLimiterConfig(options).
#include <napi.h>

#include "addon.h"
#include "buffer.h"
#include "episodes.h"
#include "convert.h"
#include "crc32.h"
#include "errors.h"
#include "rate_limiter_js.h"
#include "schema.h"

namespace replaykit_node {

namespace {

// setErrorClasses({ shape, dtype, range, state, archive, storage }): the constructors core errors become.
Napi::Value SetErrorClasses(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* data = env.GetInstanceData<AddonData>();
  if (!info[0].IsObject()) replaykit::fail(replaykit::ErrorKind::State, "setErrorClasses needs an object");
  Napi::Object o = info[0].As<Napi::Object>();
  const char* names[kErrorKinds] = {"shape", "dtype", "range", "state", "archive", "storage"};  // ErrorKind order
  for (int k = 0; k < kErrorKinds; ++k) {
    Napi::Value v = o.Get(names[k]);
    if (v.IsFunction()) data->errors[k] = Napi::Persistent(v.As<Napi::Function>());
  }
  return env.Undefined();
}

// crc32(bytes: Uint8Array, running = 0) -> the core's CRC-32 (zlib's), continuing `running`.
Napi::Value Crc32(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t n = 0;
  const void* data = typed_data_any(env, info[0], napi_uint8_array, &n, "bytes");
  const uint32_t running = info[1].IsUndefined() ? 0u : static_cast<uint32_t>(to_count(info[1], "running"));
  return Napi::Number::New(env, replaykit::crc32(data, n, running));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = env.GetInstanceData<AddonData>();
  if (!data) {  // per environment, so workers get their own; reused if the module loads twice
    data = new AddonData();
    env.SetInstanceData(data);  // deleted by the environment's teardown
  }
  Napi::Function archive_map = define_archive_map(env);
  data->archive_map = Napi::Persistent(archive_map);
  exports.Set("NativeBuffer", define_native_buffer(env));
  exports.Set("NativeWriter", define_native_writer(env));
  exports.Set("NativePrefetcher", define_native_prefetcher(env));
  exports.Set("ArchiveMap", archive_map);
  exports.Set("setErrorClasses", Napi::Function::New(env, guarded<SetErrorClasses>, "setErrorClasses"));
  exports.Set("crc32", Napi::Function::New(env, guarded<Crc32>, "crc32"));
  exports.Set("rateLimiterConfig", Napi::Function::New(env, guarded<RateLimiterConfigJs>, "rateLimiterConfig"));
  // Every limit a schema or a buffer must respect (the core enforces them when a buffer is
  // made, so that every buffer's archive can be loaded), for the facade's own messages.
  Napi::Object limits = Napi::Object::New(env);
  limits.Set("maxFields", static_cast<double>(replaykit::kMaxFields));
  limits.Set("maxDims", static_cast<double>(replaykit::kMaxDims));
  limits.Set("maxNameBytes", static_cast<double>(replaykit::kMaxNameBytes));
  limits.Set("maxCapacity", static_cast<double>(replaykit::kMaxCapacity));
  limits.Set("maxEnvStreams", static_cast<double>(replaykit::kMaxEnvStreams));
  limits.Freeze();
  exports.Set("limits", limits);
  return exports;
}

}  // namespace

}  // namespace replaykit_node

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return replaykit_node::Init(env, exports); }

NODE_API_MODULE(replaykit, InitModule)
