// replaykit binding: what NativeBuffer (a buffer's own object) and NativeWriter (a writer
// in a worker thread, writer_object.cpp) both do with a core buffer, checked the same way.
#pragma once
#include <napi.h>

#include <cstdint>
#include <vector>

#include "buffer.h"
#include "rate_limiter.h"
#include "rate_wait.h"

namespace replaykit_node {

// Validated pointers to one typed array per field of `schema`, each of n rows, into `out`
// (the caller's scratch: no allocation a call once grown); with allow_null, a null entry skips
// its field (nullptr). Returns out.data().
void* const* columns_of(Napi::Env env, Napi::Value v, const replaykit::Schema& schema, uint64_t n, const char* what,
                        std::vector<void*>& out, bool allow_null = false);

// push(columns, n, priorities?: Float64Array(n), admitted?: boolean, envs?: Uint32Array(n)) -> the
// key of the last row.
// The rate limiter (if any) counts the rows, unless `admitted`: a pushAsync whose grant
// counted them already.
Napi::Value push_call(const Napi::CallbackInfo& info, replaykit::ReplayBuffer& b, replaykit::RateLimiter* limiter);

// rateWait(side: 'insert' | 'sample', n, done: (result: 'granted' | 'closed') => void)
//   -> 0 granted now (counted), -1 closed, or the id of a queued wait (rate_wait.h).
//   Error(State) without a limiter.
Napi::Value rate_wait_call(const Napi::CallbackInfo& info, RateWaits* waits);
// rateCancel(id) -> true: removed before any grant, nothing counted, its callback never runs.
Napi::Value rate_cancel_call(const Napi::CallbackInfo& info, RateWaits* waits);
// rateRefund(side, n): gives back a grant whose call then failed (RateLimiter::refund).
Napi::Value rate_refund_call(const Napi::CallbackInfo& info, replaykit::RateLimiter* limiter);

// The schema as [{ name, dtype, shape }], in schema order.
Napi::Array schema_to_js(Napi::Env env, const replaykit::Schema& schema);

}  // namespace replaykit_node
