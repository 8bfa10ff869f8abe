#include "rate_limiter_js.h"

#include <cmath>
#include <optional>
#include <string>

#include "archive.h"
#include "convert.h"
#include "error.h"

namespace replaykit_node {

using replaykit::ErrorKind;
using replaykit::fail;

replaykit::RateLimiterConfig rate_config_from(Napi::Value v) {
  if (!v.IsObject()) fail(ErrorKind::Range, "rateLimiter must be an object like { minSize }");
  Napi::Object o = v.As<Napi::Object>();
  const uint64_t min_size = to_count(o.Get("minSize"), "rateLimiter.minSize");
  std::optional<double> spi, eb;
  Napi::Value s = o.Get("samplesPerInsert");
  if (!s.IsUndefined()) spi = to_double(s, "rateLimiter.samplesPerInsert");
  Napi::Value e = o.Get("errorBuffer");
  if (!e.IsUndefined()) eb = to_double(e, "rateLimiter.errorBuffer");
  return replaykit::RateLimiter::from_options(min_size, spi, eb);
}

Napi::Object rate_config_to_js(Napi::Env env, const replaykit::RateLimiterConfig& c) {
  Napi::Object o = Napi::Object::New(env);
  const bool ratio = std::isfinite(c.error_buffer);
  o.Set("minSize", static_cast<double>(c.min_size));
  o.Set("samplesPerInsert", ratio ? Napi::Value(Napi::Number::New(env, c.samples_per_insert)) : env.Undefined());
  o.Set("errorBuffer", ratio ? Napi::Value(Napi::Number::New(env, c.error_buffer)) : env.Undefined());
  o.Set("minDiff", c.min_diff);
  o.Set("maxDiff", c.max_diff);
  return o;
}

namespace {

void set_counters(Napi::Object o, const replaykit::RateLimiterCounters& c, bool enabled) {
  o.Set("enabled", enabled);
  o.Set("inserts", static_cast<double>(c.inserts));
  o.Set("samples", static_cast<double>(c.samples));
  o.Set("insertWaits", static_cast<double>(c.insert_waits));
  o.Set("sampleWaits", static_cast<double>(c.sample_waits));
  o.Set("insertWaitNs", static_cast<double>(c.insert_wait_ns));
  o.Set("sampleWaitNs", static_cast<double>(c.sample_wait_ns));
}

}  // namespace

Napi::Object rate_info_to_js(Napi::Env env, const replaykit::RateLimiter& limiter) {
  Napi::Object o = rate_config_to_js(env, limiter.config());
  set_counters(o, limiter.counters(), limiter.enabled());
  o.Set("pendingInserts", static_cast<double>(limiter.waiting(replaykit::RateSide::Insert)));
  o.Set("pendingSamples", static_cast<double>(limiter.waiting(replaykit::RateSide::Sample)));
  o.Set("diff", limiter.diff());
  return o;
}

Napi::Object rate_record_to_js(Napi::Env env, const replaykit::RateLimiterRecord& r) {
  Napi::Object o = rate_config_to_js(env, replaykit::rate_limiter_config(r));
  set_counters(o, replaykit::rate_limiter_counters(r), !(r.flags & replaykit::kRateLimiterDisabled));
  return o;
}

replaykit::RateSide rate_side_from(Napi::Value v) {
  const std::string s = to_string(v, "a rate limiter side");
  if (s == "insert") return replaykit::RateSide::Insert;
  if (s == "sample") return replaykit::RateSide::Sample;
  fail(ErrorKind::Range, "a rate limiter side is 'insert' or 'sample', got '" + s + "'");
}

Napi::Value RateLimiterConfigJs(const Napi::CallbackInfo& info) {
  return rate_config_to_js(info.Env(), rate_config_from(info[0]));
}

}  // namespace replaykit_node
