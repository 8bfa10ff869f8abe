// replaykit binding: the rate limiter's values as JS sees them. Its options become the core's
// configuration through RateLimiter::from_options (the core owns Reverb's validity rules and
// the default errorBuffer); its configuration and counters become plain objects; sides cross
// by name ('insert' | 'sample').
#pragma once
#include <napi.h>

#include "archive.h"
#include "rate_limiter.h"

namespace replaykit_node {

// { minSize, samplesPerInsert?, errorBuffer? } -> the core's configuration; Error(Range)
// naming the option for values outside Reverb's rules.
replaykit::RateLimiterConfig rate_config_from(Napi::Value options);

// { minSize, samplesPerInsert, errorBuffer, minDiff, maxDiff }: samplesPerInsert and
// errorBuffer undefined for MinSize (a range given directly is not something the options make).
Napi::Object rate_config_to_js(Napi::Env env, const replaykit::RateLimiterConfig& c);

// The configuration plus { enabled, inserts, samples, insertWaits, sampleWaits, insertWaitNs,
// sampleWaitNs, pendingInserts, pendingSamples, diff }.
Napi::Object rate_info_to_js(Napi::Env env, const replaykit::RateLimiter& limiter);

// An archive's record: the configuration plus { enabled, inserts, samples, insertWaits,
// sampleWaits, insertWaitNs, sampleWaitNs }.
Napi::Object rate_record_to_js(Napi::Env env, const replaykit::RateLimiterRecord& r);

replaykit::RateSide rate_side_from(Napi::Value v);  // 'insert' | 'sample'

// The module function rateLimiterConfig(options): rate_config_to_js(rate_config_from(options)),
// so that the facade checks a buffer's options before it makes anything.
Napi::Value RateLimiterConfigJs(const Napi::CallbackInfo& info);

}  // namespace replaykit_node
