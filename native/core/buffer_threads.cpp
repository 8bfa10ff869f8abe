// replaykit core: how threads share a ReplayBuffer (the design is in buffer.h, "Threads"):
// ring reservations and their in-order publication, pins of samples gathering, exclusive
// scopes, freezing for archives, and close.
#include <algorithm>
#include <string>

#include "archive.h"
#include "buffer.h"
#include "error.h"

namespace replaykit {

namespace {
// Copies up to this many bytes of rows under the lock: one lock instead of two costs less
// than the copy it would let other threads overlap.
constexpr uint64_t kCopyUnderLockBytes = 4096;
}  // namespace

void ReplayBuffer::check_open() const {
  if (closed_) fail(ErrorKind::State, "the buffer is closed");
}

bool ReplayBuffer::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

ReplayBuffer::Exclusive::Exclusive(const ReplayBuffer& b, bool rows_change, bool push) : b_(b), lock_(b.mu_) {
  for (;;) {
    // A push waits out a freeze first, holding nothing back meanwhile: the thread that will
    // thaw (the one saving) may sample or read in the meantime.
    if (push) b.cv_.wait(lock_, [&] { return b.closed_ || b.frozen_ == 0; });
    ++b.drain_writers_;
    if (rows_change) ++b.drain_readers_;
    b.cv_.wait(lock_, [&] {
      return b.closed_ || (push && b.frozen_ != 0) || (b.in_flight_.empty() && (!rows_change || b.pins_.empty()));
    });
    --b.drain_writers_;
    if (rows_change) --b.drain_readers_;
    if (b.closed_) {
      lock_.unlock();
      b.cv_.notify_all();  // the drain counters changed
      fail(ErrorKind::State, "the buffer is closed");
    }
    if (push && b.frozen_ != 0) {  // a save began while this waited: step back and wait it out
      b.cv_.notify_all();
      continue;
    }
    return;
  }
}

ReplayBuffer::Exclusive::~Exclusive() {
  lock_.unlock();
  b_.cv_.notify_all();  // reservations and samples held back by the drain may go
}

// Whether a reservation of `kept` slots from `start` (around the ring) would overwrite a slot
// that a sample is gathering.
ReplayBuffer::Unpin::~Unpin() {
  {
    std::lock_guard<std::mutex> l(b->mu_);
    b->pins_.erase(std::find(b->pins_.begin(), b->pins_.end(), pin));
  }
  b->cv_.notify_all();
}

bool ReplayBuffer::overlaps_pin(uint64_t start, uint64_t kept) const {
  const uint64_t cap = capacity();
  auto hit = [&](const uint64_t* slots, uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t s = slots[i];
      if ((s >= start ? s - start : s + cap - start) < kept) return true;
    }
    return false;
  };
  for (const Pin* p : pins_)
    if (hit(p->slots, p->n) || hit(p->chains, p->chain_n) || hit(p->frames, p->frame_n)) return true;
  return false;
}

// Whether one of slots[0 .. n) is being written by a reservation in flight.
bool ReplayBuffer::in_flight(const uint64_t* slots, uint64_t n) const {
  const uint64_t cap = capacity();
  for (const Reservation* r : in_flight_)
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t s = slots[i];
      if ((s >= r->start ? s - r->start : s + cap - r->start) < r->kept) return true;
    }
  return false;
}

void ReplayBuffer::publish_ready() {
  const uint64_t cap = capacity();
  bool any = false;
  while (!in_flight_.empty() && in_flight_.front()->done) {
    Reservation* r = in_flight_.front();
    in_flight_.pop_front();
    writer_.advance(r->n);  // from r->first_slot: reservations publish in the order they were made
    in_flight_rows_ -= r->kept;
    r->key = writer_.key((r->start + r->kept - 1) % cap);
    r->published = true;
    any = true;
  }
  if (any) {
    sync_length();
    cv_.notify_all();
  }
}

uint64_t ReplayBuffer::push_ring(std::unique_lock<std::mutex>& lock, const void* const* columns,
                                 const void* const* stored, uint64_t n, const double* priorities, const uint32_t* envs) {
  const uint64_t cap = capacity();
  const uint64_t skip = n > cap ? n - cap : 0;
  const uint64_t kept = n - skip;
  // Wait while: an exclusive operation or an archive export holds writers back; the slots
  // after those in flight are not all free of them (kept + in flight > capacity); or a
  // sample is gathering one of the slots this push would overwrite.
  auto start_of = [&] { return (reserve_cursor_ + skip) % cap; };
  cv_.wait(lock, [&] {
    return closed_ || (drain_writers_ == 0 && frozen_ == 0 && in_flight_rows_ + kept <= cap &&
                       (pins_.empty() || !overlaps_pin(start_of(), kept)));
  });
  check_open();
  storage_->check_intact();  // a file truncated from outside: refuse before anything changes
  check_derived_push(columns, n, envs);  // validateNext, against the streams as they are now
  Reservation r;
  r.first_slot = reserve_cursor_;
  r.start = start_of();
  r.kept = kept;
  r.n = n;
  if (per_) {
    if (priorities) check_priorities(priorities, n);
    apply_ring_priorities(r.first_slot, r.start, n, kept, priorities);
  }
  // The index learns of the rows now, in reservation order; a sample that follows a link
  // into this reservation waits for it, as for any slot being written.
  if (episodes_) index_rows(columns, n, envs, nullptr, r.first_slot, skip);
  in_flight_.push_back(&r);
  in_flight_rows_ += kept;
  reserve_cursor_ = (r.first_slot + n % cap) % cap;

  const uint64_t head = std::min(kept, cap - r.start);  // rows before the ring wraps
  const bool unlocked = kept * storage_->schema().row_bytes() > kCopyUnderLockBytes;
  if (unlocked) lock.unlock();
  // The reservation is published even when the copy throws (a storage file truncated from
  // outside: the buffer refuses every later call), so that later ones are not held back.
  std::exception_ptr error;
  try {
    storage_->write(r.start, head, stored, skip);
    if (kept > head) storage_->write(0, kept - head, stored, skip + head);
  } catch (...) {
    error = std::current_exception();
  }
  if (unlocked) lock.lock();
  r.done = true;
  publish_ready();
  // An earlier reservation still copying holds this one back: wait for it, so that the key
  // returned names a published item.
  if (!r.published) cv_.wait(lock, [&] { return r.published; });
  if (error) std::rethrow_exception(error);
  return r.key;
}

void ReplayBuffer::freeze() const {
  Exclusive x(*this, false);
  ++frozen_;
}

void ReplayBuffer::thaw() const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (frozen_) --frozen_;
  }
  cv_.notify_all();
}

void ReplayBuffer::close() {
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) return;
  closed_ = true;
  cv_.notify_all();  // waiting pushes and samples give up with Error(State)
  cv_.wait(lock, [this] { return in_flight_.empty() && pins_.empty(); });
  // Its stores are freed; the object stays (push reads its immutable layout before locking),
  // and nothing reaches the storage through it once closed.
  if (derived_) derived_->release();
  storage_.reset();  // deletes the storage's files
  per_.reset();
  scratch_ = {};
  update_slots_ = {};
  update_values_ = {};
  update_masses_ = {};
}

void ReplayBuffer::restore(const ArchiveView& archive) {
  Exclusive x(*this, true);
  if (frozen_) fail(ErrorKind::State, "a buffer cannot be restored while an archive of it is being written");
  restore_state(archive);
  reserve_cursor_ = writer_.cursor();
  sync_length();
}

}  // namespace replaykit
