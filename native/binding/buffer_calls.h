// replaykit binding: what NativeBuffer (a buffer's own object) and NativeWriter (a writer
// in a worker thread, writer_object.cpp) both do with a core buffer, checked the same way.
#pragma once
#include <napi.h>

#include <cstdint>
#include <vector>

#include "buffer.h"

namespace replaykit_node {

// Validated pointers to one typed array per field of `schema`, each of n rows; with
// allow_null, a null entry skips its field (nullptr).
std::vector<void*> columns_of(Napi::Env env, Napi::Value v, const replaykit::Schema& schema, uint64_t n,
                              const char* what, bool allow_null = false);

// push(columns, n, priorities?: Float64Array(n)) -> the key of the last row
Napi::Value push_call(const Napi::CallbackInfo& info, replaykit::ReplayBuffer& b);

// The schema as [{ name, dtype, shape }], in schema order.
Napi::Array schema_to_js(Napi::Env env, const replaykit::Schema& schema);

}  // namespace replaykit_node
