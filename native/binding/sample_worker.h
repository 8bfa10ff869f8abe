// replaykit binding: samples gathered off the main thread (the prefetch of `batches()`).
#pragma once
#include <napi.h>

#include <memory>

#include "buffer.h"

namespace replaykit_node {

// sampleAsync(n, words: Uint32Array(2n), outs, keys: Float64Array(n), weights: Float32Array(n) | null,
//             beta: number | undefined, done: (error | null) => void)
// Checks the arguments here, then runs the core's sample on a libuv pool thread (the core lets
// it run beside pushes and other samples, buffer.h "Threads") and calls `done` on this thread.
// The words are copied; the output arrays are held until `done`, which the facade must not
// hand to the user before.
Napi::Value queue_sample(const Napi::CallbackInfo& info, const std::shared_ptr<replaykit::ReplayBuffer>& buffer);

}  // namespace replaykit_node
