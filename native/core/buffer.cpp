// The buffer's operations (buffer.h); how threads share them is in buffer_threads.cpp. Over
// 300 lines because push (FIFO and lowest-priority, with their all-or-nothing priority
// checks), sample, the priority update and the reads each validate before they change
// anything, and splitting them apart would scatter one class's invariants.
#include "buffer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
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

ReplayBuffer::ReplayBuffer(std::unique_ptr<Storage> storage, std::optional<PrioritizedOptions> prioritized,
                           std::optional<EpisodeOptions> episodes, std::optional<DerivedOptions> derived)
    : storage_(std::move(storage)),
      writer_(storage_ ? storage_->capacity() : 1,
              prioritized && prioritized->eviction == Eviction::LowestPriority) {
  if (!storage_) fail(ErrorKind::State, "a replay buffer needs a storage");
  const uint64_t cap = storage_->capacity();
  if (cap == 0 || cap > kMaxCapacity)
    fail(ErrorKind::Range, "capacity must be an integer in [1, 2^40], got " + std::to_string(cap));
  schema_ = storage_->schema();
  if (derived) {
    if (!episodes) fail(ErrorKind::Shape, "observations stored once need the episode index (terminated and truncated)");
    const Schema stored = stored_schema(*derived);
    const Schema& held = storage_->schema();
    bool same = stored.size() == held.size();
    for (size_t f = 0; same && f < stored.size(); ++f)
      same = stored[f].name == held[f].name && stored[f].dtype == held[f].dtype && stored[f].shape == held[f].shape;
    if (!same) fail(ErrorKind::Shape, "the storage does not hold the stored schema of these derived fields");
    schema_ = derived->user;
  }
  prioritized_ = prioritized.has_value();
  if (prioritized) {
    per_ = std::make_unique<PrioritizedSampler>(cap, prioritized->alpha, prioritized->epsilon, prioritized->beta);
    eviction_ = prioritized->eviction;
    alpha_ = prioritized->alpha;
  }
  if (episodes) {
    auto scalar = [this](size_t f, bool ok_dtype, const char* what) {
      if (f >= schema_.size() || !schema_[f].shape.empty() || !ok_dtype)
        fail(ErrorKind::Shape, std::string("episodes need ") + what);
    };
    auto is_bool = [this](size_t f) { return f < schema_.size() && schema_[f].dtype == Dtype::Bool; };
    scalar(episodes->terminated, is_bool(episodes->terminated), "a bool scalar field for terminated");
    scalar(episodes->truncated, is_bool(episodes->truncated), "a bool scalar field for truncated");
    if (episodes->nstep) {
      const NStep& ns = *episodes->nstep;
      if (ns.n < 1 || ns.n > 1024) fail(ErrorKind::Range, "nStep.n must be an integer in [1, 1024], got " + std::to_string(ns.n));
      if (!(ns.gamma >= 0 && ns.gamma <= 1)) fail(ErrorKind::Range, "nStep.gamma must be in [0, 1], got " + num(ns.gamma));
      const size_t r = episodes->reward;
      scalar(r, r < schema_.size() && (schema_[r].dtype == Dtype::Float32 || schema_[r].dtype == Dtype::Float64),
             "a float32 or float64 scalar field for reward");
      if (episodes->next_obs >= schema_.size()) fail(ErrorKind::Shape, "n-step returns need a nextObs field");
    }
    episodes_ = std::make_unique<EpisodeIndex>(cap);
    if (episodes->nstep && episodes->nstep->n > 1) nstep_ = std::make_unique<NStepReturns>(cap, *episodes->nstep);
    episode_options_ = episodes;
  }
  if (derived) derived_ = std::make_unique<Derived>(std::move(*derived), *episodes_, *storage_);
  if (episodes && episodes->her) check_her(*episodes->her, episodes->nstep.has_value());
  if (episode_options_ && episode_options_->her) her_ = &*episode_options_->her;
}

size_t ReplayBuffer::side_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  check_open();
  return (derived_ ? derived_->bytes() : 0) + (episodes_ ? episodes_->bytes() : 0) + (nstep_ ? nstep_->bytes() : 0);
}

void ReplayBuffer::check_derived_push(const void* const* columns, uint64_t n, const uint32_t* envs) const {
  if (!derived_) return;
  derived_->check_push(columns, n, static_cast<const uint8_t*>(columns[episode_options_->terminated]),
                       static_cast<const uint8_t*>(columns[episode_options_->truncated]), envs);
}

void ReplayBuffer::check_envs(const uint32_t* envs, uint64_t n) const {
  if (!envs || !episodes_) return;
  for (uint64_t r = 0; r < n; ++r)
    if (envs[r] >= kMaxEnvStreams)
      fail(ErrorKind::Range, "the env id of row " + std::to_string(r) + " must be below 2^20, got " + std::to_string(envs[r]));
}

void ReplayBuffer::index_rows(const void* const* columns, uint64_t n, const uint32_t* envs, const uint64_t* slots,
                              uint64_t first_slot, uint64_t skip) {
  const auto* term = static_cast<const uint8_t*>(columns[episode_options_->terminated]);
  const auto* trunc = static_cast<const uint8_t*>(columns[episode_options_->truncated]);
  const uint64_t cap = capacity();
  // n-step: each row's reward, as a double (the records' sums are kept as rows arrive: nstep.h).
  auto reward = [&](uint64_t r) {
    const void* col = columns[episode_options_->reward];
    if (schema_[episode_options_->reward].dtype == Dtype::Float32) return double(static_cast<const float*>(col)[r]);
    return static_cast<const double*>(col)[r];
  };
  // Observations stored once: each row's slot gives up its item first (whose frame may be kept),
  // then the new item takes the frames it reads (derived.h). Before the rows are copied.
  if (derived_) derived_->begin_push(columns);
  for (uint64_t r = 0; r < n; ++r) {
    const uint64_t slot = slots ? slots[r] : r < skip ? kNoSlot : (first_slot + r) % cap;
    const uint32_t env = envs ? envs[r] : 0;
    if (derived_) derived_->before_row(slot);
    if (nstep_) nstep_->before_row(*episodes_, slot);
    const EpisodeIndex::StreamView was = derived_ ? episodes_->stream(env) : EpisodeIndex::StreamView{};
    episodes_->on_write(slot, env, term[r] != 0, trunc[r] != 0);
    if (nstep_) nstep_->after_row(*episodes_, slot, reward(r));
    if (derived_) derived_->after_row(slot, r, env, was);
  }
  if (derived_) derived_->end_push();
}

void ReplayBuffer::require_prioritized(const char* what) const {
  if (!prioritized_) fail(ErrorKind::State, std::string(what) + " needs a prioritized buffer");
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
  std::lock_guard<std::mutex> lock(mu_);
  check_open();
  return per_ ? per_->min_priority() : std::numeric_limits<double>::infinity();
}

double ReplayBuffer::total_priority() const {
  std::lock_guard<std::mutex> lock(mu_);
  check_open();
  return per_ ? per_->total() : 0.0;
}

double ReplayBuffer::max_priority() const {
  std::lock_guard<std::mutex> lock(mu_);
  check_open();
  return per_ ? per_->max_priority() : 1.0;
}

double ReplayBuffer::beta() const {
  std::lock_guard<std::mutex> lock(mu_);
  check_open();
  require_prioritized("beta");
  return per_->beta();
}

uint64_t ReplayBuffer::push(const void* const* columns, uint64_t n, const double* priorities, const uint32_t* envs) {
  if (n == 0) fail(ErrorKind::Shape, "a push needs at least one row");
  if (priorities) require_prioritized("an explicit priority");
  check_envs(envs, n);
  // The storage's columns: without derived fields (and, stacked, the newest frame of each stack).
  // Scratch of this thread's own, as sample()'s: a push allocates nothing once it has grown (the
  // push is over, its rows copied, before this thread pushes again).
  thread_local std::vector<const void*> stored_cols;
  thread_local std::vector<uint8_t> frames;
  const void* const* stored = columns;
  if (derived_) {
    derived_->stored_columns(columns, n, stored_cols, frames);
    stored = stored_cols.data();
  }
  {
    std::unique_lock<std::mutex> lock(mu_);
    check_open();
    if (eviction_ == Eviction::Fifo && storage_->concurrent_writes())
      return push_ring(lock, columns, stored, n, priorities, envs);
  }
  Exclusive x(*this, true, true);
  return push_in_place(columns, stored, n, priorities, envs);
}

// A push that holds the buffer exclusively: lowest-priority eviction, or a storage that moves
// items as it writes (tiered).
uint64_t ReplayBuffer::push_in_place(const void* const* columns, const void* const* stored, uint64_t n,
                                     const double* priorities, const uint32_t* envs) {
  storage_->check_intact();  // a file truncated from outside: refuse before anything changes
  if (priorities) check_priorities(priorities, n);
  check_derived_push(columns, n, envs);
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
    // The index first: with observations stored once, an evicted item's frame may have to be
    // kept, read from its row before the row is overwritten.
    if (episodes_) index_rows(columns, n, envs, update_slots_.data(), 0, 0);
    for (uint64_t r = 0; r < n; ++r) {
      storage_->write(update_slots_[r], 1, stored, r);
      writer_.record(update_slots_[r]);
    }
    sync_length();
    return writer_.key(update_slots_[n - 1]);
  }

  // FIFO: rows that a later row of the same batch would overwrite are not copied.
  const uint64_t first_slot = writer_.cursor();
  const uint64_t skip = n > cap ? n - cap : 0;
  const uint64_t kept = n - skip;
  const uint64_t start = (first_slot + skip) % cap;
  const uint64_t head = std::min(kept, cap - start);  // rows before the ring wraps
  if (per_) apply_ring_priorities(first_slot, start, n, kept, priorities);
  // Rows first, then the cursor: if the storage file is found truncated during the copy, the
  // writer has not counted rows that are not there (the buffer refuses every later call anyway).
  if (episodes_) index_rows(columns, n, envs, nullptr, first_slot, skip);  // first: see above
  storage_->write(start, head, stored, skip);
  if (kept > head) storage_->write(0, kept - head, stored, skip + head);
  writer_.advance(n);
  reserve_cursor_ = writer_.cursor();
  sync_length();
  return writer_.key((start + kept - 1) % cap);
}

// The priorities of a FIFO push of n rows from first_slot (kept rows from start), as a loop of
// single pushes would leave them; Error(Range), changing nothing, when the total would
// overflow. Priorities first: they are the one part of a push that can still be refused.
void ReplayBuffer::apply_ring_priorities(uint64_t first_slot, uint64_t start, uint64_t n, uint64_t kept,
                                         const double* priorities) {
  const uint64_t cap = capacity();
  bool ok;
  if (priorities) {
    // Every row, in order (a later row in the same slot wins; overwritten rows still raise
    // the running maximum), with the masses check_priorities computed.
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

void ReplayBuffer::gather_stored(const uint64_t* slots, uint64_t n, void* const* outs, const uint64_t* const* at) const {
  if (!derived_) return storage_->gather_all(slots, n, outs, at);
  thread_local std::vector<void*> stored;
  thread_local std::vector<const uint64_t*> stored_at;
  stored.assign(storage_->schema().size(), nullptr);
  stored_at.assign(storage_->schema().size(), nullptr);
  for (size_t f = 0; f < schema_.size(); ++f) {
    if (derived_->stored_field(f) == kNoField) continue;
    stored[derived_->stored_field(f)] = outs[f];
    if (at) stored_at[derived_->stored_field(f)] = at[f];
  }
  stored[derived_->stored_field(derived_->options().obs)] = nullptr;  // its frames are read by the plan
  if (derived_->options().frames == 1) stored[derived_->stored_field(derived_->options().obs)] = outs[derived_->options().obs];
  storage_->gather_all(slots, n, stored.data(), at ? stored_at.data() : nullptr);
}

void ReplayBuffer::gather(const uint64_t* slots, uint64_t n, void* const* outs) const {
  gather_stored(slots, n, outs);
  if (!derived_) return;
  const DerivedOptions& o = derived_->options();
  const bool obs = o.frames > 1 && outs[o.obs], next = outs[o.next] != nullptr;
  if (!obs && !next) return;
  thread_local FramePlan plan;
  derived_->plan(obs ? slots : nullptr, next ? slots : nullptr, n, plan);
  derived_->settle(plan);
  storage_->check_intact();
  derived_->fill(plan, outs[o.obs], outs[o.next]);
  storage_->check_intact();
}

void ReplayBuffer::gather_field(size_t f, const uint64_t* slots, uint64_t n, void* dst) const {
  thread_local std::vector<void*> outs;
  outs.assign(schema_.size(), nullptr);
  outs[f] = dst;
  gather(slots, n, outs.data());
}

void ReplayBuffer::sample(uint64_t n, const uint32_t* words, void* const* outs, uint64_t* keys, float* weights,
                          std::optional<double> beta, float* discount, uint8_t* relabelled) {
  if (n == 0) fail(ErrorKind::Range, "batch size must be at least 1");
  if (weights && beta && !(std::isfinite(*beta) && *beta >= 0)) fail(ErrorKind::Range, "beta must be a finite number >= 0");
  // Scratch of this thread's own (samples may run on several threads at once): no allocation a
  // sample once grown.
  thread_local std::vector<uint64_t> slot_scratch;
  slot_scratch.resize(n);
  uint64_t* const slots = slot_scratch.data();
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return closed_ || drain_readers_ == 0; });
  check_open();
  const uint64_t len = length();
  if (n > len)
    fail(ErrorKind::Range,
         "cannot sample " + std::to_string(n) + " items: only " + std::to_string(len) + " are stored");
  if (per_)
    per_->sample(len, n, words, slots, weights, beta ? *beta : per_->beta());
  else
    uniform_.sample(len, n, words, slots);
  // A slot being overwritten (or, prioritized, filled) right now is read once its new row is
  // published: its priority is already the new one's. n-step: each item's nextObs is read at
  // its chain's last slot (nstep.h), so those too are waited for, and pinned. The records are
  // read again after each wait (a chain may have changed meanwhile), and every slot is checked
  // again (a new reservation may have begun meanwhile). A close while this waits frees the
  // storage and the trees once nothing is in flight and nothing pinned: so after every wait,
  // check again that the buffer is open.
  thread_local std::vector<NStepReturns::Item> nstep_items;
  thread_local std::vector<uint64_t> lasts;
  // The per-slot lines this sample reads under the lock (n-step records, the write counts keys
  // need) are fetched together first: their misses overlap one another.
  if (writer_.reads_write_table()) {
    const uint64_t* writes = writer_.writes().data();
    for (uint64_t i = 0; i < n; ++i) __builtin_prefetch(writes + slots[i]);
  }
  if (nstep_) {
    nstep_items.resize(n);
    lasts.resize(n);
    for (uint64_t i = 0; i < n; ++i) nstep_->prefetch(slots[i]);
  }
  // Observations stored once: the frames of every item's obs and nextObs (n-step: the chain's
  // last item's nextObs) are planned here, and their slots waited for and pinned as well.
  thread_local FramePlan plan;
  const bool derived_obs = derived_ && derived_->options().frames > 1 && outs[derived_->options().obs];
  const bool derived_next = derived_ && outs[derived_->options().next];
  // HER (her.h): the relabelled rows and their words, drawn once; their goal slots computed
  // with the records (n-step and HER exclude each other, so the goal slots pin as the last slots do).
  thread_local std::vector<uint64_t> her_rows, her_words, goal_slots;
  const bool her = her_ && relabelled;
  if (her) her_draw(n, her_->k, words + 2 * n, her_rows, her_words);
  const uint64_t last_n = nstep_ ? n : 0;
  for (;;) {
    if (nstep_) nstep_records(slots, n, nstep_items.data(), lasts.data());
    if (her) her_goals(slots, her_rows, her_words, goal_slots);
    if (derived_obs || derived_next)
      derived_->plan(derived_obs ? slots : nullptr, derived_next ? (nstep_ ? lasts.data() : slots) : nullptr, n, plan);
    else
      plan.slots.clear();
    if (in_flight_.empty() ||
        (!in_flight(slots, n) && !in_flight(lasts.data(), last_n) && !in_flight(plan.slots.data(), plan.slots.size()) &&
         (!her || !in_flight(goal_slots.data(), goal_slots.size()))))
      break;
    cv_.wait(lock);
    check_open();
  }
  if (derived_obs || derived_next) derived_->settle(plan);  // side frames copied while the lock holds
  for (uint64_t i = 0; i < n; ++i) keys[i] = writer_.key(slots[i]);  // a write count each (prefetched above)
  if (per_) per_->advance();
  const Pin pin{slots, n, her ? goal_slots.data() : lasts.data(), her ? goal_slots.size() : last_n, plan.slots.data(),
                plan.slots.size()};
  pins_.push_back(&pin);
  lock.unlock();
  const Unpin unpin{this, &pin};
  // n-step: a stored nextObs is read at the last slots, in the same pass as the rows (a
  // derived one was planned there above); reward, terminated and truncated come from the
  // records, so the rows' own are not read (their lines need not be fetched).
  thread_local std::vector<const uint64_t*> at;
  thread_local std::vector<void*> row_outs;
  if (nstep_) {
    const EpisodeOptions& o = *episode_options_;
    at.assign(schema_.size(), nullptr);
    at[o.next_obs] = lasts.data();
    row_outs.assign(outs, outs + schema_.size());
    row_outs[o.reward] = row_outs[o.terminated] = row_outs[o.truncated] = nullptr;
  }
  gather_stored(slots, n, nstep_ ? row_outs.data() : outs, nstep_ ? at.data() : nullptr);
  if (derived_obs || derived_next) {
    storage_->check_intact();
    derived_->fill(plan, outs[derived_->options().obs], outs[derived_->options().next]);
    storage_->check_intact();
  }
  if (her) her_fill(n, her_rows, goal_slots, outs, relabelled);
  if (nstep_) {
    nstep_fill(n, nstep_items.data(), outs, discount);
  } else {
    one_step_discount(slots, n, discount);
  }
}

void ReplayBuffer::nstep_records(const uint64_t* slots, uint64_t n, NStepReturns::Item* items, uint64_t* lasts) const {
  for (uint64_t i = 0; i < n; ++i) {
    items[i] = nstep_->item(slots[i]);
    lasts[i] = items[i].last;
  }
}

void ReplayBuffer::one_step_discount(const uint64_t* slots, uint64_t n, float* discount) const {
  if (!discount || !episode_options_ || !episode_options_->nstep) return;
  const float g = static_cast<float>(episode_options_->nstep->gamma);
  for (uint64_t i = 0; i < n; ++i) discount[i] = episodes_->terminated(slots[i]) ? 0.0f : g;
}

void ReplayBuffer::nstep_fill(uint64_t n, const NStepReturns::Item* items, void* const* outs, float* discount) const {
  const EpisodeOptions& o = *episode_options_;
  if (discount)
    for (uint64_t i = 0; i < n; ++i) discount[i] = nstep_->discount(items[i]);
  if (void* out = outs[o.reward]) {
    if (schema_[o.reward].dtype == Dtype::Float32) {
      for (uint64_t i = 0; i < n; ++i) static_cast<float*>(out)[i] = static_cast<float>(items[i].sum);
    } else {
      for (uint64_t i = 0; i < n; ++i) static_cast<double*>(out)[i] = items[i].sum;
    }
  }
  if (auto* out = static_cast<uint8_t*>(outs[o.terminated]))
    for (uint64_t i = 0; i < n; ++i) out[i] = (items[i].last_flags & EpisodeIndex::kTerminated) != 0;
  if (auto* out = static_cast<uint8_t*>(outs[o.truncated]))
    for (uint64_t i = 0; i < n; ++i) out[i] = (items[i].last_flags & EpisodeIndex::kTruncated) != 0;
}

template <typename T>
uint64_t ReplayBuffer::update_priorities(const uint64_t* keys, uint64_t n, const T* deltas) {
  require_prioritized("a priority update");
  // Reservations in flight are not yet keys anyone holds; samples gathering read rows only.
  std::lock_guard<std::mutex> lock(mu_);
  check_open();
  if (frozen_) fail(ErrorKind::State, "priorities cannot change while an archive of the buffer is being written");
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
  Exclusive x(*this, false);
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

void ReplayBuffer::read_items(const uint64_t* slots, uint64_t n, void* const* outs, float* discount) const {
  if (!nstep_) {
    gather(slots, n, outs);
    one_step_discount(slots, n, discount);
    return;
  }
  // Under Exclusive nothing is written meanwhile: the records are read as they stand. The
  // rows whole, then nextObs (stored or derived) at the chains' last slots.
  thread_local std::vector<NStepReturns::Item> items;
  thread_local std::vector<uint64_t> lasts;
  thread_local std::vector<void*> row_outs;
  items.resize(n);
  lasts.resize(n);
  nstep_records(slots, n, items.data(), lasts.data());
  const size_t next_field = episode_options_->next_obs;
  row_outs.assign(outs, outs + schema_.size());
  row_outs[next_field] = nullptr;
  gather(slots, n, row_outs.data());
  if (outs[next_field]) gather_field(next_field, lasts.data(), n, outs[next_field]);
  nstep_fill(n, items.data(), outs, discount);
}

void ReplayBuffer::read(const uint64_t* keys, uint64_t n, void* const* outs, float* discount) const {
  Exclusive x(*this, false);
  scratch_.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    const KeyState st = writer_.resolve(keys[i], &scratch_[i]);
    if (st != KeyState::Live)
      fail(ErrorKind::Range, key_text(keys[i], i) + (st == KeyState::Stale ? " names an item that has been overwritten"
                                                                             : " was never handed out"));
  }
  read_items(scratch_.data(), n, outs, discount);
}

void ReplayBuffer::keys_in_order(uint64_t* keys) const {
  Exclusive x(*this, false);
  writer_.slots_in_order(keys);
  for (uint64_t p = 0; p < length(); ++p) keys[p] = writer_.key(keys[p]);
}

void ReplayBuffer::read_positions(const uint64_t* positions, uint64_t n, void* const* outs, uint64_t* keys,
                                  float* discount) const {
  Exclusive x(*this, false);
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
  read_items(scratch_.data(), n, outs, discount);
}

void ReplayBuffer::clear() {
  Exclusive x(*this, true);
  if (frozen_) fail(ErrorKind::State, "a buffer cannot be cleared while an archive of it is being written");
  clear_state();
}

void ReplayBuffer::clear_state() {
  storage_->check_intact();
  if (derived_) derived_->clear();  // before the rows go: open episodes keep what they will read
  writer_.clear();
  storage_->clear();
  if (per_) per_->clear();
  if (episodes_) episodes_->clear();
  reserve_cursor_ = writer_.cursor();
  sync_length();
}

}  // namespace replaykit
