// replaykit core: the writer decides which slot each new transition goes to and
// keeps the ring's cursor, its length and a write count per slot.
//
// Slots 0 .. length-1 are always the occupied ones: a buffer fills slot by slot
// and, once full, replaces in place, so occupancy never has holes.
//
// Positions order the stored items by age: 0 is the oldest, length-1 the newest.
// Under FIFO they follow from the cursor; a writer that replaces out of order
// (lowest-priority eviction) keeps an insertion number per slot instead.
//
// Item keys. A stored item is named by key = (writes to its slot - 1) * capacity + slot:
// a later item in the same slot gets a larger key, so a key handed out for an item
// that has since been overwritten is recognised as stale (Reverb names items by key
// for the same reason). Keys stay below 2^53, exact in a JS number.
#pragma once
#include <cstdint>
#include <vector>

namespace replaykit {

enum class KeyState { Live, Stale, Unknown };

class Writer {
 public:
  // track_order: keep insertion numbers, for writers that replace out of FIFO order.
  explicit Writer(uint64_t capacity, bool track_order = false)
      : capacity_(capacity), writes_(capacity, 0), inserted_(track_order ? capacity : 0, 0), regular_(!track_order) {}
  uint64_t capacity() const { return capacity_; }
  uint64_t length() const { return length_; }
  uint64_t cursor() const { return cursor_; }  // the FIFO slot written next
  bool full() const { return length_ == capacity_; }

  // Records `n` FIFO writes starting at the cursor; returns the first slot.
  uint64_t advance(uint64_t n);
  // Records one write at `slot` (slot <= length; slot == length while filling).
  void record(uint64_t slot);
  void clear() {  // write counts persist, so old keys stay stale
    // Regular stays regular only if every slot has been written equally often.
    if (regular_ && cursor_ != 0) regular_ = false;
    length_ = 0;
    cursor_ = 0;
    order_.clear();
  }

  // The slot of the item at `position` (0 = oldest); precondition: position < length.
  uint64_t slot_at(uint64_t position) const;
  // The slots of every stored item, oldest first, into out[0 .. length).
  void slots_in_order(uint64_t* out) const;

  // Times `slot` has been written. In the regular state (a FIFO ring never cleared in
  // mid-lap) that follows from the cursor, without reading the per-slot table: a batch's
  // keys then cost no random memory access.
  uint64_t writes_of(uint64_t slot) const {
    return regular_ ? lap_base_ + (slot < cursor_ ? 1 : 0) : writes_[slot];
  }
  uint64_t key(uint64_t slot) const { return (writes_of(slot) - 1) * capacity_ + slot; }
  // Whether writes_of reads the per-slot table (then prefetching it helps).
  bool reads_write_table() const { return !regular_; }

  // State, for archives.
  const std::vector<uint64_t>& writes() const { return writes_; }
  const std::vector<uint64_t>& inserted() const { return inserted_; }
  uint64_t inserted_count() const { return inserted_count_; }
  bool tracks_order() const { return !inserted_.empty(); }
  // Replaces the whole state (arrays of `capacity` entries; inserted only when tracking).
  // The caller has validated it.
  void restore(uint64_t length, uint64_t cursor, const uint64_t* writes, const uint64_t* inserted,
               uint64_t inserted_count);
  // Classifies `key` and gives its slot. Unknown: no item ever had that key.
  KeyState resolve(uint64_t key, uint64_t* slot) const;

 private:
  const std::vector<uint64_t>& order() const;  // slots by insertion number (tracking writers)

  uint64_t capacity_;
  uint64_t length_ = 0;
  uint64_t cursor_ = 0;
  std::vector<uint64_t> writes_;          // the record; writes_of() agrees with it always
  std::vector<uint64_t> inserted_;        // insertion number per slot, when tracking order
  // Regular state: writes_[s] == lap_base_ + (s < cursor_) for every slot s.
  bool regular_;
  uint64_t lap_base_ = 0;
  uint64_t inserted_count_ = 0;
  mutable std::vector<uint64_t> order_;  // cache of order(); empty when stale
};

}  // namespace replaykit
