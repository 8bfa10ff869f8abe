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
// "key 42 (entry 3)", or "entry 3 (not a key)" for kNotAKey.
std::string key_text(uint64_t key, uint64_t i) {
  if (key == kNotAKey) return "entry " + std::to_string(i) + " (not an item key)";
  return "key " + std::to_string(key) + " (entry " + std::to_string(i) + ")";
}

[[noreturn]] void overflow() {
  fail(ErrorKind::Range, "these priorities would make the total priority (the sum of p^alpha) overflow a double");
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
    per_ = std::make_unique<PrioritizedSampler>(cap, prioritized->alpha, prioritized->epsilon, prioritized->beta);
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
  storage_->check_intact();  // a file truncated from outside: refuse before anything changes
  if (priorities) {
    require_prioritized("an explicit priority");
    check_priorities(priorities, n);
  }
  const uint64_t cap = capacity();

  if (eviction_ == Eviction::LowestPriority) {
    // Each row evicts the lowest-priority item present when it arrives, exactly as a loop of
    // single pushes would. The slots and priorities are decided first, recording what each
    // row replaces, so that a total that would overflow is undone before any row is stored.
    update_slots_.resize(n);
    undo_p_.resize(n);
    undo_mass_.resize(n);
    const double old_max = per_->max_priority();
    uint64_t filled = writer_.length();
    for (uint64_t r = 0; r < n; ++r) {
      const uint64_t slot = filled < cap ? filled++ : per_->lowest_slot();
      update_slots_[r] = slot;
      undo_p_[r] = per_->priority(slot);
      undo_mass_[r] = per_->mass(slot);
      per_->set_priority(slot, priorities ? priorities[r] : per_->max_priority());
    }
    if (!std::isfinite(per_->total())) {
      for (uint64_t r = n; r-- > 0;) per_->put_back(update_slots_[r], undo_p_[r], undo_mass_[r]);
      per_->set_max_priority(old_max);
      overflow();
    }
    for (uint64_t r = 0; r < n; ++r) {
      storage_->write(update_slots_[r], 1, columns, r);
      writer_.record(update_slots_[r]);
    }
    return writer_.key(update_slots_[n - 1]);
  }

  // FIFO: rows that a later row of the same batch would overwrite are not copied.
  const uint64_t first_slot = writer_.cursor();
  const uint64_t skip = n > cap ? n - cap : 0;
  const uint64_t kept = n - skip;
  const uint64_t start = (first_slot + skip) % cap;
  const uint64_t head = std::min(kept, cap - start);  // rows before the ring wraps
  if (per_) {
    // Priorities first: they are the one part that can still be refused (overflow).
    bool ok;
    if (priorities) {
      // Every row, in order, as a loop of pushes would (a later row in the same slot wins;
      // overwritten rows still raise the running maximum), with the masses check_priorities
      // computed.
      update_slots_.resize(n);
      for (uint64_t r = 0; r < n; ++r) update_slots_[r] = (first_slot + r) % cap;
      ok = per_->set_priorities(update_slots_.data(), priorities, update_masses_.data(), n);
    } else {
      update_slots_.resize(kept);
      update_values_.assign(kept, per_->max_priority());
      update_masses_.resize(kept);
      per_->masses(update_values_.data(), kept, update_masses_.data());
      for (uint64_t r = 0; r < kept; ++r) update_slots_[r] = (start + r) % cap;
      ok = per_->set_priorities(update_slots_.data(), update_values_.data(), update_masses_.data(), kept);
    }
    if (!ok) overflow();
  }
  // Rows first, then the cursor: if the storage file is found truncated during the copy, the
  // writer has not counted rows that are not there (the buffer refuses every later call anyway).
  storage_->write(start, head, columns, skip);
  if (kept > head) storage_->write(0, kept - head, columns, skip + head);
  writer_.advance(n);
  return writer_.key((start + kept - 1) % cap);
}

void ReplayBuffer::gather(const uint64_t* slots, uint64_t n, void* const* outs) const {
  storage_->gather_all(slots, n, outs);
}

void ReplayBuffer::sample(uint64_t n, const uint32_t* words, void* const* outs, uint64_t* keys, float* weights,
                          std::optional<double> beta) {
  const uint64_t len = length();
  if (n == 0) fail(ErrorKind::Range, "batch size must be at least 1");
  if (n > len)
    fail(ErrorKind::Range,
         "cannot sample " + std::to_string(n) + " items: only " + std::to_string(len) + " are stored");
  if (weights && beta && !(std::isfinite(*beta) && *beta >= 0)) fail(ErrorKind::Range, "beta must be a finite number >= 0");
  scratch_.resize(n);
  if (per_)
    per_->sample(len, n, words, scratch_.data(), weights, beta ? *beta : per_->beta());
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
  if (per_) per_->advance();
}

template <typename T>
uint64_t ReplayBuffer::update_priorities(const uint64_t* keys, uint64_t n, const T* deltas) {
  require_prioritized("a priority update");
  const double epsilon = per_->epsilon();
  // Validate everything (each p^alpha computed once, all in one pass) before changing anything.
  update_values_.resize(n);
  update_masses_.resize(n);
  update_slots_.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(deltas[i]);
    if (!std::isfinite(d))
      fail(ErrorKind::Range, "delta " + std::to_string(i) + " of the update must be finite, got " + num(d));
    update_values_[i] = std::fabs(d) + epsilon;
  }
  per_->masses(update_values_.data(), n, update_masses_.data());
  constexpr uint64_t kStale = ~uint64_t(0);
  for (uint64_t i = 0; i < n; ++i) {
    check_mass(update_values_[i], update_masses_[i],
               [i] { return "the priority |delta " + std::to_string(i) + "| + epsilon"; });
    const KeyState st = writer_.resolve(keys[i], &update_slots_[i]);
    if (st == KeyState::Unknown)
      fail(ErrorKind::Range, key_text(keys[i], i) + " was never handed out");
    if (st == KeyState::Stale) update_slots_[i] = kStale;
  }
  uint64_t live = 0;
  for (uint64_t i = 0; i < n; ++i) {
    if (update_slots_[i] == kStale) continue;
    update_slots_[live] = update_slots_[i];
    update_values_[live] = update_values_[i];
    update_masses_[live++] = update_masses_[i];
  }
  if (!per_->set_priorities(update_slots_.data(), update_values_.data(), update_masses_.data(), live)) overflow();
  return live;
}

template uint64_t ReplayBuffer::update_priorities<float>(const uint64_t*, uint64_t, const float*);
template uint64_t ReplayBuffer::update_priorities<double>(const uint64_t*, uint64_t, const double*);

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
      fail(ErrorKind::Range, key_text(keys[i], i) + (st == KeyState::Stale ? " names an item that has been overwritten"
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
      fail(ErrorKind::Range, (positions[i] == kNotAKey ? std::string("a position that is not an integer")
                                                        : "position " + std::to_string(positions[i])) +
                                 " is out of range: " + std::to_string(len) +
                                 " items are stored (positions 0 to " + std::to_string(len) + " - 1)");
    scratch_[i] = writer_.slot_at(positions[i]);
  }
  if (keys)
    for (uint64_t i = 0; i < n; ++i) keys[i] = writer_.key(scratch_[i]);
  gather(scratch_.data(), n, outs);
}

void ReplayBuffer::clear() {
  storage_->check_intact();
  writer_.clear();
  storage_->clear();
  if (per_) per_->clear();
}

}  // namespace replaykit
