#include "shared.h"

#include <mutex>
#include <random>
#include <unordered_map>

namespace replaykit_node {

namespace {
struct Registry {
  std::mutex mu;
  struct Entry {
    std::weak_ptr<replaykit::ReplayBuffer> buffer;
    std::weak_ptr<replaykit::RateLimiter> limiter;
  };
  std::unordered_map<uint64_t, Entry> buffers;
  uint64_t next_id = 1;
};
// Never destroyed: worker threads may still look a buffer up while the process exits.
Registry& registry() {
  static Registry* r = new Registry();
  return *r;
}
}  // namespace

uint64_t share(const std::shared_ptr<replaykit::ReplayBuffer>& buffer, const std::shared_ptr<replaykit::RateLimiter>& limiter) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  const uint64_t id = r.next_id++;
  r.buffers.emplace(id, Registry::Entry{buffer, limiter});
  return id;
}

Shared find_shared(uint64_t id) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.buffers.find(id);
  if (it == r.buffers.end()) return {};
  Shared s{it->second.buffer.lock(), it->second.limiter.lock()};
  if (!s.buffer) s.limiter.reset();
  return s;
}

void unshare(uint64_t id) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.buffers.erase(id);
}

double process_token() {
  static const double token = [] {
    std::random_device rd;
    const uint64_t x = (uint64_t(rd()) << 32 | rd()) & ((uint64_t(1) << 53) - 1);
    return double(x | 1);  // never 0
  }();
  return token;
}

}  // namespace replaykit_node
