// replaykit core: a replay buffer composed of a storage, a writer and a sampler.
//
// Every method validates its whole input before it changes anything, so an
// Error leaves the buffer exactly as it was.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sampler.h"
#include "storage.h"
#include "writer.h"

namespace replaykit {

enum class Eviction { Fifo, LowestPriority };

constexpr uint64_t kMaxCapacity = uint64_t(1) << 40;  // items of a buffer (the binding exports it)

// Everything prioritized replay is configured with (PrioritizedSampler holds and checks it).
struct PrioritizedOptions {
  double alpha = 0.6;
  Eviction eviction = Eviction::Fifo;
  double epsilon = 1e-6;  // added to |delta| by update_priorities
  BetaSchedule beta;
};

// A key that names no item (what the binding gives a JS number that is not an integer key).
constexpr uint64_t kNotAKey = ~uint64_t(0);

class ReplayBuffer {
 public:
  // Throws Error(Range) for a capacity of 0 or above kMaxCapacity, or prioritized options
  // out of range (see PrioritizedSampler).
  ReplayBuffer(std::unique_ptr<Storage> storage, std::optional<PrioritizedOptions> prioritized);

  const Schema& schema() const { return storage_->schema(); }
  uint64_t capacity() const { return writer_.capacity(); }
  uint64_t length() const { return writer_.length(); }
  bool prioritized() const { return per_ != nullptr; }
  const Storage& storage() const { return *storage_; }

  // Appends n rows. columns[f] holds n * elems(f) elements of field f, row-major.
  // priorities: n priorities (finite, > 0) or nullptr for the running maximum
  // (prioritized buffers only). Returns the key of the last row. Throws Error(Range), storing
  // nothing, when the total priority would overflow to infinity.
  uint64_t push(const void* const* columns, uint64_t n, const double* priorities);

  // Draws n items (1 <= n <= length) with replacement from 2n random words: writes
  // their keys, each field's rows into outs[f], and (prioritized) the
  // importance-sampling weights when weights is not null, for exponent `beta` if given,
  // else the schedule's. A prioritized draw then advances the beta schedule by one.
  void sample(uint64_t n, const uint32_t* words, void* const* outs, uint64_t* keys, float* weights,
              std::optional<double> beta = std::nullopt);

  // Sets p = |delta| + epsilon for each live key; stale keys are skipped. Throws
  // Error(Range), applying none, for a key never handed out, a non-finite delta, or updates
  // that would make the total priority overflow. Returns how many were applied. Later
  // duplicates win.
  template <typename T>
  uint64_t update_priorities(const uint64_t* keys, uint64_t n, const T* deltas);

  // The k items of highest priority, highest first (ties: lower slot first).
  void top(uint64_t k, uint64_t* keys, double* priorities) const;

  // Reads the items named by live keys. Throws Error(Range) for a stale or unknown key.
  // In every read, an out that is null skips its field.
  void read(const uint64_t* keys, uint64_t n, void* const* outs) const;

  // The keys of every stored item, oldest first: keys[p] names the item at position p.
  void keys_in_order(uint64_t* keys) const;
  // Reads the items at positions[0 .. n) (0 = the oldest stored item) and, when keys is
  // not null, their keys. Throws Error(Range) for a position >= length.
  void read_positions(const uint64_t* positions, uint64_t n, void* const* outs, uint64_t* keys) const;
  // Reads up to `want` items named by keys[0 .. n_keys) (or key_at(0 .. n_keys)), skipping keys that are stale
  // (their item was overwritten) or unknown; writes the keys read to keys_out and
  // their count to *got. Returns how many of the keys it consumed. key_at(i) is asked only
  // up to the last key consumed (the binding converts JS numbers lazily through it).
  uint64_t read_live(const uint64_t* keys, uint64_t n_keys, uint64_t want, void* const* outs, uint64_t* keys_out,
                     uint64_t* got) const {
    return read_live_with([keys](uint64_t i) { return keys[i]; }, n_keys, want, outs, keys_out, got);
  }
  template <typename KeyAt>
  uint64_t read_live_with(KeyAt&& key_at, uint64_t n_keys, uint64_t want, void* const* outs, uint64_t* keys_out,
                          uint64_t* got) const {
    scratch_.resize(want);
    uint64_t consumed = 0, found = 0, slot;
    for (; consumed < n_keys && found < want; ++consumed) {
      const uint64_t key = key_at(consumed);
      if (writer_.resolve(key, &slot) != KeyState::Live) continue;
      keys_out[found] = key;
      scratch_[found++] = slot;
    }
    gather(scratch_.data(), found, outs);
    *got = found;
    return consumed;
  }

  void clear();

  // Prioritized only (0 / +inf / 1 otherwise).
  double total_priority() const { return per_ ? per_->total() : 0.0; }
  double min_priority() const;
  double max_priority() const { return per_ ? per_->max_priority() : 1.0; }
  double alpha() const { return per_ ? per_->alpha() : 0.0; }
  double priority_of_slot(uint64_t slot) const { return per_ ? per_->priority(slot) : 1.0; }
  // The prioritized state (alpha, epsilon, beta schedule and progress, maximum); null when uniform.
  const PrioritizedSampler* prioritized_sampler() const { return per_.get(); }

  const Writer& writer() const { return writer_; }
  Eviction eviction() const { return eviction_; }

  // Gives an empty buffer of the archive's schema, capacity and kind the archive's exact
  // state. Throws Error(Archive) when the archive does not fit this buffer or its
  // contents are inconsistent (then the buffer is left empty).
  void restore(const struct ArchiveView& archive);

 private:
  void require_prioritized(const char* what) const;
  // Prioritized only: every p finite and > 0, with p^alpha finite and > 0 (Error(Range) if not).
  void check_priorities(const double* p, uint64_t n);
  template <typename Describe>
  void check_mass(double p, double mass, Describe&& what) const;
  void gather(const uint64_t* slots, uint64_t n, void* const* outs) const;

  std::unique_ptr<Storage> storage_;
  Writer writer_;
  std::unique_ptr<PrioritizedSampler> per_;
  UniformSampler uniform_;
  Eviction eviction_ = Eviction::Fifo;
  mutable std::vector<uint64_t> scratch_;  // slots of the current batch
  std::vector<uint64_t> update_slots_;     // batched priority updates
  std::vector<double> update_values_;     // their priorities p
  std::vector<double> update_masses_;     // and p^alpha
  std::vector<double> undo_p_, undo_mass_;  // lowest-priority pushes: what each row replaced
};

extern template uint64_t ReplayBuffer::update_priorities<float>(const uint64_t*, uint64_t, const float*);
extern template uint64_t ReplayBuffer::update_priorities<double>(const uint64_t*, uint64_t, const double*);

}  // namespace replaykit
