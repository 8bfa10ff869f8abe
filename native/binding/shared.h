// replaykit binding: buffers shared with writers in worker threads.
//
// A buffer's JS object lives in the environment (the main thread or a worker) that made it,
// but its core ReplayBuffer may be called from any thread (buffer.h, "Threads"). Writers in
// other environments of the same process reach it through this process-wide registry, by
// the id in a writer handle (lib/actors/handle.ts). The registry holds weak references: once
// the buffer is closed or collected, a writer's calls are Error(State). A handle carries this
// process's token, so one sent to another process is refused rather than matched to an
// unrelated buffer there.
#pragma once
#include <cstdint>
#include <memory>

#include "buffer.h"
#include "rate_limiter.h"

namespace replaykit_node {

// A buffer as writers share it: the core buffer and its rate limiter (null without one).
struct Shared {
  std::shared_ptr<replaykit::ReplayBuffer> buffer;
  std::shared_ptr<replaykit::RateLimiter> limiter;
};

// Registers the buffer; returns its id (ids are never reused).
uint64_t share(const std::shared_ptr<replaykit::ReplayBuffer>& buffer, const std::shared_ptr<replaykit::RateLimiter>& limiter);
// The buffer of `id` (a null buffer when it was never shared or is gone).
Shared find_shared(uint64_t id);
void unshare(uint64_t id);
// A random number drawn once per process (53 bits: exact in a JS number).
double process_token();

}  // namespace replaykit_node
