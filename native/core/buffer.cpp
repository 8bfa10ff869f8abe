#include "buffer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>
#include <string>

#include "detmath.h"
#include "error.h"

namespace replaykit {

namespace {
constexpr uint64_t kMaxCapacity = uint64_t(1) << 40;

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
}  // namespace

ReplayBuffer::ReplayBuffer(std::unique_ptr<Storage> storage, std::optional<PrioritizedOptions> prioritized)
    : storage_(std::move(storage)),
      writer_(storage_ ? storage_->capacity() : 1,
              prioritized && prioritized->eviction == Eviction::LowestPriority) {
  if (!storage_) fail(ErrorKind::State, "a replay buffer needs a storage");
  const uint64_t cap = storage_->capacity();
  if (cap == 0 || cap > kMaxCapacity)
    fail(ErrorKind::Range, "capacity must be an integer in [1, 2^40], got " + std::to_string(cap));
  if (prioritized) {
    if (!std::isfinite(prioritized->alpha) || prioritized->alpha < 0)
      fail(ErrorKind::Range, "alpha must be a finite number >= 0, got " + num(prioritized->alpha));
    per_ = std::make_unique<PrioritizedSampler>(cap, prioritized->alpha);
    eviction_ = prioritized->eviction;
  }
}

void ReplayBuffer::require_prioritized(const char* what) const {
  if (!per_) fail(ErrorKind::State, std::string(what) + " needs a prioritized buffer");
}

void ReplayBuffer::check_priorities(const double* p, uint64_t n) {
  for (uint64_t r = 0; r < n; ++r)
    if (!(std::isfinite(p[r]) && p[r] > 0))
      fail(ErrorKind::Range,
           "priority of row " + std::to_string(r) + " must be a finite number > 0, got " + num(p[r]));
  update_masses_.resize(n);
  per_->masses(p, n, update_masses_.data());
  for (uint64_t r = 0; r < n; ++r)
    check_mass(p[r], update_masses_[r], [r] { return "priority of row " + std::to_string(r); });
}

template <typename Describe>
void ReplayBuffer::check_mass(double p, double mass, Describe&& what) const {
  // p^alpha is what the sum-tree adds up: it must neither overflow nor underflow.
  if (!(mass > 0 && std::isfinite(mass)))
    fail(ErrorKind::Range, what() + " = " + num(p) + " raised to alpha = " + num(per_->alpha()) +
                               " is outside the range of a double");
}

double ReplayBuffer::min_priority() const {
  return per_ ? per_->min_priority() : std::numeric_limits<double>::infinity();
}

uint64_t ReplayBuffer::push(const void* const* columns, uint64_t n, const double* priorities) {
  if (n == 0) fail(ErrorKind::Shape, "a push needs at least one row");
  if (priorities) {
    require_prioritized("an explicit priority");
    check_priorities(priorities, n);
  }
  const uint64_t cap = capacity();

  if (eviction_ == Eviction::LowestPriority) {
    // Each row evicts the lowest-priority item present when it arrives, exactly as a
    // loop of single pushes would.
    uint64_t slot = 0;
    for (uint64_t r = 0; r < n; ++r) {
      slot = writer_.full() ? per_->lowest_slot() : writer_.length();
      storage_->write(slot, 1, columns, r);
      writer_.record(slot);
      per_->set_priority(slot, priorities ? priorities[r] : per_->max_priority());
    }
    return writer_.key(slot);
  }

  // FIFO: rows that a later row of the same batch would overwrite are not copied.
  const uint64_t first_slot = writer_.advance(n);
  const uint64_t skip = n > cap ? n - cap : 0;
  const uint64_t kept = n - skip;
  const uint64_t start = (first_slot + skip) % cap;
  const uint64_t head = std::min(kept, cap - start);  // rows before the ring wraps
  storage_->write(start, head, columns, skip);
  if (kept > head) storage_->write(0, kept - head, columns, skip + head);
  if (per_) {
    if (priorities) {
      // Every row, in order, as a loop of pushes would (a later row in the same slot wins;
      // overwritten rows still raise the running maximum), with the masses check_priorities
      // computed.
      update_slots_.resize(n);
      for (uint64_t r = 0; r < n; ++r) update_slots_[r] = (first_slot + r) % cap;
      per_->set_priorities(update_slots_.data(), priorities, update_masses_.data(), n);
    } else {
      update_slots_.resize(kept);
      update_values_.assign(kept, per_->max_priority());
      for (uint64_t r = 0; r < kept; ++r) update_slots_[r] = (start + r) % cap;
      per_->set_priorities(update_slots_.data(), update_values_.data(), kept);
    }
  }
  return writer_.key((start + kept - 1) % cap);
}

void ReplayBuffer::gather(const uint64_t* slots, uint64_t n, void* const* outs) const {
  storage_->gather_all(slots, n, outs);
}

void ReplayBuffer::sample(uint64_t n, const uint32_t* words, void* const* outs, uint64_t* keys, float* weights,
                          double beta) const {
  const uint64_t len = length();
  if (n == 0) fail(ErrorKind::Range, "batch size must be at least 1");
  if (n > len)
    fail(ErrorKind::Range,
         "cannot sample " + std::to_string(n) + " items: only " + std::to_string(len) + " are stored");
  if (weights && !(std::isfinite(beta) && beta >= 0)) fail(ErrorKind::Range, "beta must be a finite number >= 0");
  scratch_.resize(n);
  if (per_)
    per_->sample(len, n, words, scratch_.data(), weights, beta);
  else
    uniform_.sample(len, n, words, scratch_.data());
  // A key needs the slot's write count: a second random access per item. Prefetch those
  // lines so that their misses overlap the gather of the rows.
  if (writer_.reads_write_table()) {
    const uint64_t* writes = writer_.writes().data();
    for (uint64_t i = 0; i < n; ++i) __builtin_prefetch(writes + scratch_[i]);
  }
  gather(scratch_.data(), n, outs);
  for (uint64_t i = 0; i < n; ++i) keys[i] = writer_.key(scratch_[i]);
}

template <typename T>
uint64_t ReplayBuffer::update_priorities(const uint64_t* keys, uint64_t n, const T* deltas, double epsilon) {
  require_prioritized("updatePriorities");
  if (!(std::isfinite(epsilon) && epsilon > 0)) fail(ErrorKind::Range, "epsilon must be a finite number > 0");
  // Validate everything (each p^alpha computed once, all in one pass) before changing anything.
  update_values_.resize(n);
  update_masses_.resize(n);
  update_slots_.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(deltas[i]);
    if (!std::isfinite(d))
      fail(ErrorKind::Range, "tdErrors[" + std::to_string(i) + "] must be finite, got " + num(d));
    update_values_[i] = std::fabs(d) + epsilon;
  }
  per_->masses(update_values_.data(), n, update_masses_.data());
  constexpr uint64_t kStale = ~uint64_t(0);
  for (uint64_t i = 0; i < n; ++i) {
    check_mass(update_values_[i], update_masses_[i],
               [i] { return "the priority |tdErrors[" + std::to_string(i) + "]| + epsilon"; });
    const KeyState st = writer_.resolve(keys[i], &update_slots_[i]);
    if (st == KeyState::Unknown)
      fail(ErrorKind::Range,
           "indices[" + std::to_string(i) + "] = " + std::to_string(keys[i]) + " was never handed out");
    if (st == KeyState::Stale) update_slots_[i] = kStale;
  }
  uint64_t live = 0;
  for (uint64_t i = 0; i < n; ++i) {
    if (update_slots_[i] == kStale) continue;
    update_slots_[live] = update_slots_[i];
    update_values_[live] = update_values_[i];
    update_masses_[live++] = update_masses_[i];
  }
  per_->set_priorities(update_slots_.data(), update_values_.data(), update_masses_.data(), live);
  return live;
}

template uint64_t ReplayBuffer::update_priorities<float>(const uint64_t*, uint64_t, const float*, double);
template uint64_t ReplayBuffer::update_priorities<double>(const uint64_t*, uint64_t, const double*, double);

void ReplayBuffer::top(uint64_t k, uint64_t* keys, double* priorities) const {
  require_prioritized("top");
  const uint64_t len = length();
  if (k > len)
    fail(ErrorKind::Range, "cannot take the top " + std::to_string(k) + " items: only " + std::to_string(len) +
                               " are stored");
  if (k == 0) return;
  // Higher priority first; among equals, the lower slot first.
  auto before = [this](uint64_t a, uint64_t b) {
    const double pa = per_->priority(a), pb = per_->priority(b);
    return pa > pb || (pa == pb && a < b);
  };
  std::priority_queue<uint64_t, std::vector<uint64_t>, decltype(before)> heap(before);  // worst on top
  for (uint64_t s = 0; s < len; ++s) {
    if (heap.size() < k) {
      heap.push(s);
    } else if (before(s, heap.top())) {
      heap.pop();
      heap.push(s);
    }
  }
  for (uint64_t i = k; i-- > 0;) {
    const uint64_t s = heap.top();
    heap.pop();
    keys[i] = writer_.key(s);
    priorities[i] = per_->priority(s);
  }
}

void ReplayBuffer::read(const uint64_t* keys, uint64_t n, void* const* outs) const {
  scratch_.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    const KeyState st = writer_.resolve(keys[i], &scratch_[i]);
    if (st != KeyState::Live)
      fail(ErrorKind::Range, "indices[" + std::to_string(i) + "] = " + std::to_string(keys[i]) +
                                 (st == KeyState::Stale ? " names an item that has been overwritten"
                                                        : " was never handed out"));
  }
  gather(scratch_.data(), n, outs);
}

void ReplayBuffer::keys_in_order(uint64_t* keys) const {
  writer_.slots_in_order(keys);
  for (uint64_t p = 0; p < length(); ++p) keys[p] = writer_.key(keys[p]);
}

void ReplayBuffer::read_positions(const uint64_t* positions, uint64_t n, void* const* outs, uint64_t* keys) const {
  const uint64_t len = length();
  scratch_.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    if (positions[i] >= len)
      fail(ErrorKind::Range, "position " + std::to_string(positions[i]) + " is out of range: " + std::to_string(len) +
                                 " items are stored (positions 0 to " + std::to_string(len) + " - 1)");
    scratch_[i] = writer_.slot_at(positions[i]);
  }
  if (keys)
    for (uint64_t i = 0; i < n; ++i) keys[i] = writer_.key(scratch_[i]);
  gather(scratch_.data(), n, outs);
}

namespace {
// A key as the core counts it; false for a value that cannot be a key (skipped as unknown).
inline bool key_value(uint64_t k, uint64_t* out) {
  *out = k;
  return true;
}
inline bool key_value(double k, uint64_t* out) {
  if (!(k >= 0 && k <= 9007199254740992.0 && std::floor(k) == k)) return false;
  *out = static_cast<uint64_t>(k);
  return true;
}
}  // namespace

template <typename K>
uint64_t ReplayBuffer::read_live(const K* keys, uint64_t n_keys, uint64_t want, void* const* outs, uint64_t* keys_out,
                                 uint64_t* got) const {
  scratch_.resize(want);
  uint64_t consumed = 0, found = 0, slot, key;
  for (; consumed < n_keys && found < want; ++consumed) {
    if (!key_value(keys[consumed], &key) || writer_.resolve(key, &slot) != KeyState::Live) continue;
    keys_out[found] = key;
    scratch_[found++] = slot;
  }
  gather(scratch_.data(), found, outs);
  *got = found;
  return consumed;
}

template uint64_t ReplayBuffer::read_live<uint64_t>(const uint64_t*, uint64_t, uint64_t, void* const*, uint64_t*,
                                                    uint64_t*) const;
template uint64_t ReplayBuffer::read_live<double>(const double*, uint64_t, uint64_t, void* const*, uint64_t*,
                                                  uint64_t*) const;

void ReplayBuffer::clear() {
  writer_.clear();
  storage_->clear();
  if (per_) per_->clear();
}

}  // namespace replaykit
