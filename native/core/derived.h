// replaykit core: observations stored once (issue #16). Next observations rebuilt from the next
// item of the episode, and frame stacks rebuilt from the episode's previous items.
//
// Two schemas. The USER schema is what pushes take and batches return (ReplayBuffer::schema());
// the STORED schema is what the storage holds: the user schema without the `next` field, and,
// with a frame stack of F frames, with the observation field's leading dimension F dropped
// (only the newest frame of each pushed stack is stored). stored_schema() derives one from the
// other; Derived maps user fields to stored ones.
//
// Frames. Call f(e, j) the newest frame of the observation of step j of episode e (for F = 1
// the whole observation). For an item at step k of episode e:
//   obs     = f(e, k-F+1) .. f(e, k)      (oldest first; frames before step 0 are zeros)
//   nextObs = f(e, k-F+2) .. f(e, k+1)
// f(e, k) is the item's own stored frame. f(e, k+1) is the stored frame of the next item of the
// episode when that is stored; otherwise it is in a side store:
//   - the item ends its episode (terminated or truncated): the newest frame of its own pushed
//     nextObs, kept per slot while the item is stored (one entry per stored episode end);
//   - the item is the newest of an open episode (its next item has not come yet): its pushed
//     nextObs, kept per slot until the next item arrives or the item goes (one per open stream);
//   - the next item was overwritten or evicted while this one is stored: see "kept frames".
// Frames before an episode's first step are zeros: Dopamine's convention (its
// circular_replay_buffer.py pads every episode's start with stack_size - 1 zero transitions,
// "child classes can rely on the padding transitions being filled with zeros"), which is also
// SB3's VecFrameStack's. (gym's FrameStack repeats the first frame instead; stacks pushed with
// that convention come back with zeros there.)
//
// Kept frames. The items of an episode depend on each other's frames: f(e, j) is read by the
// items at steps j-1 (its nextObs) to j+F-1 (their obs stacks). When the item holding f(e, j)
// leaves the storage (FIFO cutting the oldest episode's head, lowest-priority eviction taking an
// item from the middle, a pushBatch larger than the capacity whose first rows are overwritten at
// once, clear()) while a stored item still reads its frame, or while a future item of its still
// open episode will (the next F-1 steps' stacks), the frame moves to the kept store, keyed by
// (episode, step), and is freed once nothing reads it. So every stored item is sampled exactly
// as the un-deduplicated buffer would give it: no item is skipped and no frame is guessed. The
// counts: deps_[slot] is how many stored items read the stored frame at slot; a kept frame has
// its own count, plus "future" while its open episode's next steps will read it. Each stored
// item holds one count on each frame it reads besides its own (F-1 predecessors and its next).
// Bounds: a kept frame lives only while an item within F steps of it is stored, or its episode
// is open and within F-1 steps of its end; under FIFO that is at most F frames per episode cut
// by the ring and F-1 per open stream.
//
// validate_next: a pushed nextObs of an item that does not end its episode must equal the obs
// of the episode's next item (it is not stored: the next item's obs is what batches return).
// Checked only with validate_next, before anything changes (Error(Range)); otherwise trusted.
//
// Threads. Everything here runs under the buffer's lock, except fill(): plan() resolves every
// frame a batch reads to a pointer (stored frames in slots the caller pins and waits for; side
// and kept frames copied into the plan, since a push may free them once the lock is released),
// and fill() copies them without the lock.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "episodes.h"
#include "schema.h"

namespace replaykit {

class Storage;

struct DerivedOptions {
  Schema user;                 // what pushes take and batches return
  size_t obs = 0;              // the user field stored once
  size_t next = 0;             // the user field rebuilt from the next item (same dtype and shape as obs)
  uint32_t frames = 1;         // F: frames of a stack (1: no stacking); obs's shape is [F, ...frame]
  bool validate_next = false;  // check pushed nextObs against the next obs
};

constexpr uint32_t kMaxFrames = 64;
constexpr size_t kNoField = ~size_t(0);

// The stored schema of o.user: Error(Shape) when obs and next do not fit (same dtype and shape,
// a leading dimension F when stacking, F in [1, kMaxFrames]).
Schema stored_schema(const DerivedOptions& o);

// What a batch reads for its derived fields: one source per frame (null: zeros).
struct FramePlan {
  std::vector<const uint8_t*> src;  // n * F for obs, then n * F for next
  std::vector<uint64_t> slots;      // stored slots read (to pin and to wait for)
  std::vector<uint8_t> copies;      // side and kept frames, copied under the lock
  std::vector<std::pair<size_t, const uint8_t*>> pending;  // src index -> side frame, before copying
  uint64_t n = 0;
  bool obs = false, next = false;
};

class Derived {
 public:
  Derived(DerivedOptions o, const EpisodeIndex& index, const Storage& storage);

  const DerivedOptions& options() const { return o_; }
  size_t frame_bytes() const { return frame_bytes_; }
  // The stored field of user field f, or kNoField for the next field.
  size_t stored_field(size_t f) const { return to_stored_[f]; }
  // Columns of the stored schema for user columns (stacks: their newest frames, copied to scratch).
  void stored_columns(const void* const* cols, uint64_t n, std::vector<const void*>& out,
                      std::vector<uint8_t>& scratch) const;

  // A push of n rows (user columns; envs may be null), under the lock, before the index learns
  // of them: validate_next's check (Error(Range), nothing changed).
  // term / trunc: the rows' flags (0/1 bytes).
  void check_push(const void* const* cols, uint64_t n, const uint8_t* term, const uint8_t* trunc,
                  const uint32_t* envs) const;
  // Row r of the push goes to `slot` (kNoSlot: overwritten at once by the same push). Called in
  // order; before_row before the index's on_write, after_row after it.
  void begin_push(const void* const* cols);
  void before_row(uint64_t slot);
  void after_row(uint64_t slot, uint64_t row, uint32_t env, const EpisodeIndex::StreamView& before);
  void end_push();
  // Every stored item leaves (clear): open episodes keep what their next items will read.
  void clear();

  // Plans obs for obs_slots[i] and next for next_slots[i] (either may be null: not read; an
  // entry kNoSlot reads zeros, e.g. a sequence window's padding).
  void plan(const uint64_t* obs_slots, const uint64_t* next_slots, uint64_t n, FramePlan& p) const;
  // Copies the side frames of a plan (still under the lock); then fill may run without it.
  void settle(FramePlan& p) const;
  void fill(const FramePlan& p, void* obs_out, void* next_out) const;

  // The state an archive needs besides the rows and the episode index, as bytes (little-endian;
  // deterministic: side entries by slot, kept frames by episode and step): the readers' counts
  // per slot, the side store, the kept store. restore() takes such bytes into an empty Derived
  // over the same index and storage, already restored; Error(Archive) when they are malformed
  // or do not fit (frames, frame size, capacity, slots). Archives carry them in their Derived
  // section (archive.h).
  std::vector<uint8_t> save() const;
  void restore(const uint8_t* bytes, uint64_t size);
  // After restore(), over the restored index: Error(Archive) unless the state is one the pushes
  // could have made (so that a crafted archive cannot make a later read or push fail): every
  // stored item's predecessor frames and next frame resolve; side entries only for stored items,
  // final exactly for items that end their episode, pending only for an open stream's newest
  // item, each of the size its kind has; every reader count (per slot and per kept frame) is the
  // number of stored items that read it; a kept frame is marked for its open episode's future
  // steps exactly when they will read it.
  void check_restored() const;
  // Frees the side and kept stores and the counts (the buffer is closing; under its lock).
  void release();
  // Bytes of RAM held besides the storage: the per-slot counts and the side stores.
  size_t bytes() const;
  size_t kept_count() const { return kept_.size(); }
  size_t side_count() const { return side_.size(); }

 private:
  struct Key {
    uint64_t episode, step;
    bool operator==(const Key& k) const { return episode == k.episode && step == k.step; }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return std::hash<uint64_t>()(k.episode * 0x9E3779B97F4A7C15ull ^ k.step); }
  };
  struct Kept {
    Key key{0, 0};
    std::vector<uint8_t> frame;
    uint64_t prev_slot = kNoSlot;  // where step-1 was stored when this left (checked on use)
    uint32_t ref = 0;
    uint32_t env = 0;
    bool future = false;
  };
  // An item's own next frame: its episode's final one, or (open episode, newest item) pending.
  struct Side {
    std::vector<uint8_t> next;  // the newest frame, or (pending with validate_next) the whole pushed row
    int64_t row = -1;           // >= 0: still row `row` of the push being recorded (copied at its end)
    bool final = false;
  };
  // A frame: stored at slot, kept, or zeros.
  struct Ref {
    uint64_t slot = kNoSlot;
    const Kept* kept = nullptr;
    bool zero() const { return slot == kNoSlot && !kept; }
  };

  bool holds(uint64_t slot, uint64_t episode, uint64_t step) const {
    return slot != kNoSlot && index_.episode(slot) == episode && index_.step(slot) == step;
  }
  // Frame (e, k-1) seen from frame (e, k) at `from`.
  Ref before(uint64_t episode, uint64_t step, const Ref& from) const;
  // The newest frame of item slot's next observation: a side frame (returned), or *ref.
  const uint8_t* next_frame(uint64_t slot, Ref* ref) const;
  const uint8_t* side_frame(const Side& s) const;
  const uint8_t* stored_frame(uint64_t slot) const;  // this push's rows, else the storage
  void add_ref(const Ref& r, int delta);
  // An item (stored at slot, or kNoSlot) leaves with `deps` readers: kept if read or to be read.
  void release(uint64_t episode, uint64_t step, uint32_t env, uint32_t deps, uint64_t prev_slot, const uint8_t* frame);
  bool future_need(uint32_t env, uint64_t episode, uint64_t step) const;
  void expire_future(uint32_t env);

  DerivedOptions o_;
  const EpisodeIndex& index_;
  const Storage& storage_;
  size_t obs_stored_ = 0, frame_bytes_ = 0, next_row_bytes_ = 0;
  std::vector<size_t> to_stored_;
  std::vector<uint16_t> deps_;                     // per slot
  std::unordered_map<uint64_t, Side> side_;        // per slot: final or pending next observation
  std::unordered_map<Key, Kept, KeyHash> kept_;    // frames of items gone
  std::vector<std::vector<Key>> future_;           // per env: kept frames its open episode will read
  const void* const* cols_ = nullptr;              // the push being recorded
  std::unordered_map<uint64_t, uint64_t> fresh_;   // its rows so far: slot -> row
  std::vector<uint64_t> lazy_;                     // slots whose side entry is a row of the push
};

}  // namespace replaykit
