#include "buffer_calls.h"

#include <string>

#include "convert.h"
#include "error.h"
#include "rate_limiter_js.h"

namespace replaykit_node {

using replaykit::ErrorKind;
using replaykit::fail;

void* const* columns_of(Napi::Env env, Napi::Value v, const replaykit::Schema& schema, uint64_t n, const char* what,
                        std::vector<void*>& out, bool allow_null) {
  if (!v.IsArray()) fail(ErrorKind::Shape, std::string(what) + " must be an array of typed arrays");
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() != schema.size())
    fail(ErrorKind::Shape, std::string(what) + ": expected " + std::to_string(schema.size()) + " fields");
  out.assign(schema.size(), nullptr);
  for (size_t f = 0; f < schema.size(); ++f) {
    const replaykit::Field& fd = schema[f];
    Napi::Value col = a.Get(static_cast<uint32_t>(f));
    if (allow_null && col.IsNull()) continue;
    out[f] = typed_data(env, col, array_type_of(fd.dtype), n * fd.elems, What("field", fd.name));
  }
  return out.data();
}

Napi::Value push_call(const Napi::CallbackInfo& info, replaykit::ReplayBuffer& b, replaykit::RateLimiter* limiter) {
  Napi::Env env = info.Env();
  const uint64_t n = to_count(info[1], "row count");
  thread_local std::vector<void*> scratch;  // the push's thread (a writer's worker, or the buffer's)
  void* const* cols = columns_of(env, info[0], b.schema(), n, "columns", scratch);
  const double* pr = nullptr;
  if (!info[2].IsUndefined() && !info[2].IsNull())
    pr = static_cast<const double*>(typed_data(env, info[2], napi_float64_array, n, "priorities"));
  const bool admitted = info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();
  const uint32_t* envs = nullptr;  // buffers with episodes: the env stream of each row
  if (!info[4].IsUndefined() && !info[4].IsNull())
    envs = static_cast<const uint32_t*>(typed_data(env, info[4], napi_uint32_array, n, "env"));
  const uint64_t key = b.push(cols, n, pr, envs);
  if (limiter && !admitted) limiter->on_insert(n);
  return Napi::Number::New(env, key_to_js(key));
}

Napi::Value rate_wait_call(const Napi::CallbackInfo& info, RateWaits* waits) {
  Napi::Env env = info.Env();
  if (!waits) fail(ErrorKind::State, "this buffer has no rate limiter");
  const replaykit::RateSide side = rate_side_from(info[0]);
  const uint64_t n = to_count(info[1], "item count");
  if (!info[2].IsFunction()) fail(ErrorKind::State, "rateWait needs a callback");
  return Napi::Number::New(env, waits->wait(env, side, n, info[2].As<Napi::Function>()));
}

Napi::Value rate_cancel_call(const Napi::CallbackInfo& info, RateWaits* waits) {
  const uint64_t id = to_count(info[0], "wait id");
  return Napi::Boolean::New(info.Env(), waits && waits->cancel(id));
}

Napi::Value rate_refund_call(const Napi::CallbackInfo& info, replaykit::RateLimiter* limiter) {
  if (limiter) limiter->refund(rate_side_from(info[0]), to_count(info[1], "item count"));
  return info.Env().Undefined();
}

Napi::Array schema_to_js(Napi::Env env, const replaykit::Schema& schema) {
  Napi::Array out = Napi::Array::New(env, schema.size());
  for (size_t f = 0; f < schema.size(); ++f) out.Set(static_cast<uint32_t>(f), field_to_js(env, schema[f]));
  return out;
}

}  // namespace replaykit_node
