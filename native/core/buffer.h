// replaykit core: a replay buffer composed of a storage, a writer and a sampler.
//
// Every method validates its whole input before it changes anything, so an
// Error leaves the buffer exactly as it was.
//
// Threads. Every method may be called from any thread; many writers (actors) push while a
// learner samples, and they do not take turns for the whole of a call. The design
// (buffer_threads.cpp):
// - A FIFO push into a row storage (memory, mmap) RESERVES its slots under a short lock
//   (the ring's next free slots after every reservation still in flight; its priorities go
//   into the trees then, so an overflow is refused before anything is reserved), COPIES its
//   rows with no lock held, and PUBLISHES them under the lock, in reservation order: the
//   writer's cursor, length and keys only ever describe whole rows. A push that finishes
//   before an earlier one waits for it (a few microseconds of copying), so the key it
//   returns names a published item. Small pushes (up to 4 KiB of rows) copy under the lock:
//   one lock instead of two is cheaper than the copy they would overlap.
// - A sample draws its slots under the lock (uniform over the published items, or from the
//   trees), waits if one of them is a slot still being copied (rare: only the slots a
//   reservation overwrites, for as long as the copy takes), PINS its slots, and gathers them
//   with no lock held. A reservation that would overwrite a pinned slot waits until that
//   sample has copied it out. So no row is ever read while it is written: a sampled row is
//   all of one transition.
// - Everything else that reads or changes many items (reads by key or position, top, clear,
//   restore, archives) waits until no reservation is in flight (and, when it changes rows,
//   no sample is gathering) and runs under the lock. Pushes that cannot be reservations
//   (lowest-priority eviction, whose slots depend on the trees of the moment; tiered
//   storage, which moves items between tiers) do the same.
// - An archive export (ArchiveExporter) FREEZES the buffer for its lifetime: pushes from
//   other threads wait until it ends (samples and reads go on).
// - close() refuses new calls, waits for pushes in flight and samples gathering, and frees
//   the storage (deleting its files) and the trees; every later call is Error(State). The
//   object itself lives on while other threads hold it (the binding shares it with
//   writers in worker threads).
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "derived.h"
#include "episodes.h"
#include "her.h"
#include "nstep.h"
#include "sampler.h"
#include "sequences.h"
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

// Episodes (episodes.h): an index of episodes kept as rows are published, and what it serves.
// The fields named are the schema's: terminated and truncated bool scalars; for n-step
// returns also reward (a float32 or float64 scalar) and nextObs.
struct EpisodeOptions {
  size_t terminated = 0, truncated = 0;
  std::optional<NStep> nstep;
  size_t reward = 0, next_obs = 0;  // n-step only
  std::optional<HerOptions> her;     // hindsight relabelling (her.h); not with n-step
};

// A key that names no item (what the binding gives a JS number that is not an integer key).
constexpr uint64_t kNotAKey = ~uint64_t(0);

class ReplayBuffer {
 public:
  // Throws Error(Range) for a capacity of 0 or above kMaxCapacity, or prioritized options
  // out of range (see PrioritizedSampler).
  // Episodes: Error(Shape) when the fields named are not of the kinds EpisodeOptions says,
  // Error(Range) for n outside [1, 1024] or gamma outside [0, 1].
  // Observations stored once (derived.h): `derived` names the user schema; the storage holds its
  // stored_schema() (Error(Shape) otherwise). Needs episodes (the index says which item is next).
  ReplayBuffer(std::unique_ptr<Storage> storage, std::optional<PrioritizedOptions> prioritized,
               std::optional<EpisodeOptions> episodes = std::nullopt,
               std::optional<DerivedOptions> derived = std::nullopt);

  // The user schema: what pushes take and batches return (the storage's own schema is the
  // stored one when observations are stored once). Kept after close().
  const Schema& schema() const { return schema_; }
  uint64_t capacity() const { return writer_.capacity(); }
  // Items published (a reservation's rows count once published). Lock-free.
  uint64_t length() const { return length_.load(std::memory_order_acquire); }
  bool prioritized() const { return prioritized_; }
  // Precondition: not closed; the caller keeps other threads from closing it meanwhile.
  const Storage& storage() const { return *storage_; }

  // Refuses new calls (Error(State) "the buffer is closed"), waits for pushes in flight and
  // samples gathering to finish, then frees the storage (its files are deleted) and the trees.
  // Idempotent.
  void close();
  bool closed() const;
  // An archive export in progress: pushes wait until thaw(); clear and restore are Error(State).
  // Waits for pushes in flight first. Counted: each freeze needs its thaw.
  void freeze() const;
  void thaw() const;

  // Appends n rows. columns[f] holds n * elems(f) elements of field f, row-major.
  // priorities: n priorities (finite, > 0) or nullptr for the running maximum
  // (prioritized buffers only). envs: the environment stream of each row (n ids below 2^20),
  // or nullptr for stream 0 (buffers with episodes; ignored otherwise). Returns the key of the
  // last row. Throws Error(Range), storing nothing, when the total priority would overflow to
  // infinity or an env id is out of range.
  uint64_t push(const void* const* columns, uint64_t n, const double* priorities, const uint32_t* envs = nullptr);

  // Draws n items (1 <= n <= length) with replacement from 2n random words: writes
  // their keys, each field's rows into outs[f], and (prioritized) the
  // importance-sampling weights when weights is not null, for exponent `beta` if given,
  // else the schedule's. A prioritized draw then advances the beta schedule by one.
  // With n-step returns each item is its n-step item (nstep.h), and `discount`, when not
  // null, gets each item's gamma^m (0 when terminated).
  // HER (her.h): with `relabelled` (n bytes) on a buffer with the option, words has 2n + 2
  // entries (the last two seed the goal choice); the relabelled rows get their new goal in
  // outs[goal] and a 1 in relabelled (0 elsewhere). Their reward is the caller's to compute.
  // The goal slots are waited for and pinned as the drawn slots are.
  void sample(uint64_t n, const uint32_t* words, void* const* outs, uint64_t* keys, float* weights,
              std::optional<double> beta = std::nullopt, float* discount = nullptr, uint8_t* relabelled = nullptr);

  // Sequences (sequences.h, in buffer_sequences.cpp): draws n start items as sample() does
  // (uniform, or by priority with importance-sampling weights for `beta` or the schedule's,
  // advancing the schedule by one), keeping those start_fits() accepts: a start that does not
  // fit is drawn again from a SplitMix64 stream seeded by words[2n .. 2n + 2) (so 2n + 2
  // words), at most 64 draws a sequence on average, then Error(Range) saying why. Each field
  // f with outs[f] gets [n, length, ...row], mask[n * length] 1 where a step is real (padded
  // steps are zero in every field); with a burn-in, burn_outs[f] gets [n, burn_in, ...row]
  // and burn_mask[n * burn_in] likewise (burn_outs may be null then: no rows, masks only).
  // keys[n]: the starts' keys. Sequences are plain one-step items (no n-step sums: TorchRL's
  // slices neither). Throws Error(State) without an episode index, Error(Range) for n of 0,
  // n > length(), or a spec out of range (length or burn_in above kMaxSequenceSteps, stride 0).
  void sample_sequences(uint64_t n, const SequenceSpec& spec, const uint32_t* words, void* const* outs, uint8_t* mask,
                        void* const* burn_outs, uint8_t* burn_mask, uint64_t* keys, float* weights,
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
  // In every read, an out that is null skips its field; with n-step returns the items are
  // n-step items, as sample() gives them, and `discount` (when not null) gets their gamma^m.
  void read(const uint64_t* keys, uint64_t n, void* const* outs, float* discount = nullptr) const;

  // The keys of every stored item, oldest first: keys[p] names the item at position p.
  void keys_in_order(uint64_t* keys) const;
  // Reads the items at positions[0 .. n) (0 = the oldest stored item) and, when keys is
  // not null, their keys. Throws Error(Range) for a position >= length.
  void read_positions(const uint64_t* positions, uint64_t n, void* const* outs, uint64_t* keys, float* discount = nullptr) const;
  // Reads up to `want` items named by keys[0 .. n_keys) (or key_at(0 .. n_keys)), skipping keys that are stale
  // (their item was overwritten) or unknown; writes the keys read to keys_out and
  // their count to *got. Returns how many of the keys it consumed. key_at(i) is asked only
  // up to the last key consumed (the binding converts JS numbers lazily through it).
  uint64_t read_live(const uint64_t* keys, uint64_t n_keys, uint64_t want, void* const* outs, uint64_t* keys_out,
                     uint64_t* got, float* discount = nullptr) const {
    return read_live_with([keys](uint64_t i) { return keys[i]; }, n_keys, want, outs, keys_out, got, discount);
  }
  template <typename KeyAt>
  uint64_t read_live_with(KeyAt&& key_at, uint64_t n_keys, uint64_t want, void* const* outs, uint64_t* keys_out,
                          uint64_t* got, float* discount = nullptr) const {
    Exclusive x(*this, false);
    scratch_.resize(want);
    uint64_t consumed = 0, found = 0, slot;
    for (; consumed < n_keys && found < want; ++consumed) {
      const uint64_t key = key_at(consumed);
      if (writer_.resolve(key, &slot) != KeyState::Live) continue;
      keys_out[found] = key;
      scratch_[found++] = slot;
    }
    read_items(scratch_.data(), found, outs, discount);
    *got = found;
    return consumed;
  }

  void clear();

  // Prioritized only (0 / +inf / 1 otherwise).
  double total_priority() const;
  double min_priority() const;
  double max_priority() const;
  double alpha() const { return alpha_; }
  // The beta the next prioritized draw uses (Error(State) when uniform).
  double beta() const;
  // For tests, and for archives while frozen: no lock taken.
  double priority_of_slot(uint64_t slot) const { return per_ ? per_->priority(slot) : 1.0; }
  // The prioritized state (alpha, epsilon, beta schedule and progress, maximum); null when
  // uniform. Read it only while frozen or from the only thread using the buffer.
  const PrioritizedSampler* prioritized_sampler() const { return per_.get(); }
  // The writer's state; the same proviso.
  const Writer& writer() const { return writer_; }
  Eviction eviction() const { return eviction_; }
  // The episode index (null without episodes); the same proviso as writer().
  const EpisodeIndex* episodes() const { return episodes_.get(); }
  const std::optional<EpisodeOptions>& episode_options() const { return episode_options_; }
  // The HER option (null without).
  const HerOptions* her() const { return her_; }
  // Observations stored once (null otherwise); the same proviso as writer().
  const Derived* derived() const { return derived_.get(); }
  // Bytes of RAM the buffer's side stores hold besides the storage (derived.h). Takes the lock.
  size_t side_bytes() const;

  // Gives an empty buffer of the archive's schema, capacity and kind the archive's exact
  // state. Throws Error(Archive) when the archive does not fit this buffer or its
  // contents are inconsistent (then the buffer is left empty).
  void restore(const struct ArchiveView& archive);

 private:
  // ---- threads (buffer_threads.cpp) ----
  struct Reservation {
    uint64_t first_slot, start, kept, n;  // ring slot of row 0, of the first kept row; rows kept, rows pushed
    bool done = false, published = false;
    uint64_t key = 0;  // of the last row, set when published
  };
  // The slots a sample is gathering (its drawn slots, then its n-step chains): it lives on
  // the sampling thread's stack, and pins_ points to it meanwhile.
  struct Pin {
    const uint64_t* slots;
    uint64_t n;
    const uint64_t* chains;
    uint64_t chain_n;
    const uint64_t* frames = nullptr;  // slots whose frames derived fields read (derived.h)
    uint64_t frame_n = 0;
  };
  // Takes a sample's pin out of pins_ when it goes (also when the gather throws: a storage file
  // truncated from outside), and wakes the pushes waiting for its slots.
  struct Unpin {
    ReplayBuffer* b;
    const Pin* pin;
    ~Unpin();
  };
  // The lock held with no reservation in flight, and (rows_change) no sample gathering, and
  // (a push) the buffer not frozen; Error(State) when closed. Notifies waiters when it ends.
  class Exclusive {
   public:
    Exclusive(const ReplayBuffer& b, bool rows_change, bool push = false);
    ~Exclusive();
    Exclusive(const Exclusive&) = delete;
    Exclusive& operator=(const Exclusive&) = delete;

   private:
    const ReplayBuffer& b_;
    std::unique_lock<std::mutex> lock_;
  };
  void check_open() const;  // under the lock
  bool overlaps_pin(uint64_t start, uint64_t kept) const;
  bool in_flight(const uint64_t* slots, uint64_t n) const;
  void publish_ready();  // under the lock: publishes the done reservations at the front, in order
  // columns: the user's; stored: the storage's (the same without derived fields).
  uint64_t push_ring(std::unique_lock<std::mutex>& lock, const void* const* columns, const void* const* stored,
                     uint64_t n, const double* priorities, const uint32_t* envs);
  uint64_t push_in_place(const void* const* columns, const void* const* stored, uint64_t n,
                         const double* priorities, const uint32_t* envs);
  void check_derived_push(const void* const* columns, uint64_t n, const uint32_t* envs) const;
  void apply_ring_priorities(uint64_t first_slot, uint64_t start, uint64_t n, uint64_t kept, const double* priorities);
  void clear_state();
  // Records rows [0, n) of a push in the episode index: row r at slots[r] when slots is not
  // null, else (FIFO) at (first_slot + r) % capacity, with the first `skip` rows overwritten at
  // once by the same push (kNoSlot).
  void index_rows(const void* const* columns, uint64_t n, const uint32_t* envs, const uint64_t* slots,
                  uint64_t first_slot, uint64_t skip);
  void check_envs(const uint32_t* envs, uint64_t n) const;
  // n-step (n > 1), under the lock: copies of the records of slots[0 .. n) (nstep.h) into
  // items, and their last slots into lasts (where each item's nextObs is read: the caller
  // waits for and pins them as for the slots).
  void nstep_records(const uint64_t* slots, uint64_t n, NStepReturns::Item* items, uint64_t* lasts) const;
  // n-step (n > 1): the items' reward, terminated, truncated and discount into outs, over the
  // rows gathered whole (nextObs is the caller's: read at the last slots).
  void nstep_fill(uint64_t n, const NStepReturns::Item* items, void* const* outs, float* discount) const;
  // nStep with n = 1 (no records): discount[i] = gamma, or 0 when slots[i] terminated. Nothing
  // without n-step or without discount.
  void one_step_discount(const uint64_t* slots, uint64_t n, float* discount) const;
  // Reads (under Exclusive): slots[0 .. n) into outs, as n-step items with their discount
  // when the buffer has n-step returns (the items a sample would give for those slots).
  void read_items(const uint64_t* slots, uint64_t n, void* const* outs, float* discount) const;
  // HER (her.cpp): the option checked against the schema (Error(Shape) / Error(Range) / Error(State));
  void check_her(const HerOptions& her, bool nstep) const;
  // the relabelled rows' goal slots (under the lock), then their goals (after the gather).
  void her_goals(const uint64_t* slots, const std::vector<uint64_t>& rows, const std::vector<uint64_t>& words,
                 std::vector<uint64_t>& goals) const;
  void her_fill(uint64_t n, const std::vector<uint64_t>& rows, const std::vector<uint64_t>& goals, void* const* outs,
                uint8_t* relabelled) const;
  void restore_state(const struct ArchiveView& archive);
  void sync_length() { length_.store(writer_.length(), std::memory_order_release); }

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::deque<Reservation*> in_flight_;  // reservations not yet published, oldest first
  uint64_t in_flight_rows_ = 0;         // their kept rows
  uint64_t reserve_cursor_ = 0;         // the slot the next reservation starts at
  mutable std::vector<const Pin*> pins_;  // the samples gathering (no allocation a sample once grown)
  mutable uint64_t drain_writers_ = 0;  // Exclusive scopes waiting: new reservations wait
  mutable uint64_t drain_readers_ = 0;  // ... that change rows: new samples wait
  mutable uint64_t frozen_ = 0;
  bool closed_ = false;
  std::atomic<uint64_t> length_{0};
  Schema schema_;
  bool prioritized_;
  double alpha_ = 0;

  void require_prioritized(const char* what) const;
  // Prioritized only: every p finite and > 0, with p^alpha finite and > 0 (Error(Range) if not).
  void check_priorities(const double* p, uint64_t n);
  template <typename Describe>
  void check_mass(double p, double mass, Describe&& what) const;
  // THE read of stored items into a batch: every user field f with outs[f] set, for the items at
  // slots[0 .. n). Derived fields resolve here (derived.h). Callers hold the buffer exclusively
  // (reads by key or position, epochs). A read that gathers without the lock, as sample does,
  // must instead, under the lock: derived_->plan(obs slots, next slots, n, plan) (kNoSlot entries
  // read zeros: a sequence's padding), wait while in_flight(plan.slots), pin plan.slots (Pin::
  // frames), derived_->settle(plan); and after unlocking: gather_stored(slots, n, outs) then
  // derived_->fill(plan, outs[obs], outs[next]). sample() is the model; sequences and HER's goal
  // reads use the same steps (n-step: plan nextObs at each chain's last slot).
  void gather(const uint64_t* slots, uint64_t n, void* const* outs) const;
  // Field f alone (e.g. n-step rewards along chains), the same contract.
  void gather_field(size_t f, const uint64_t* slots, uint64_t n, void* dst) const;
  // The stored fields of outs (derived ones skipped), for slots pinned by the caller; user field
  // f read at at[f] instead when `at` and at[f] are given (Storage::gather_all).
  void gather_stored(const uint64_t* slots, uint64_t n, void* const* outs, const uint64_t* const* at = nullptr) const;

  std::unique_ptr<Storage> storage_;
  Writer writer_;
  std::unique_ptr<PrioritizedSampler> per_;
  std::unique_ptr<EpisodeIndex> episodes_;
  std::unique_ptr<NStepReturns> nstep_;  // n-step returns with n > 1 (nstep.h)
  std::optional<EpisodeOptions> episode_options_;
  std::unique_ptr<Derived> derived_;
  const HerOptions* her_ = nullptr;  // points into episode_options_
  UniformSampler uniform_;
  Eviction eviction_ = Eviction::Fifo;
  mutable std::vector<uint64_t> scratch_;  // slots of the current read (under Exclusive)
  std::vector<uint64_t> update_slots_;     // batched priority updates
  std::vector<double> update_values_;     // their priorities p
  std::vector<double> update_masses_;     // and p^alpha
  std::vector<double> undo_p_, undo_mass_;  // lowest-priority pushes: what each row replaced
};

extern template uint64_t ReplayBuffer::update_priorities<float>(const uint64_t*, uint64_t, const float*);
extern template uint64_t ReplayBuffer::update_priorities<double>(const uint64_t*, uint64_t, const double*);

}  // namespace replaykit
