// replaykit core: the writer decides which slot each new transition goes to and
// keeps the ring's cursor, its length and a write count per slot.
//
// Slots 0 .. length-1 are always the occupied ones: a buffer fills slot by slot
// and, once full, replaces in place, so occupancy never has holes.
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
  explicit Writer(uint64_t capacity) : capacity_(capacity), writes_(capacity, 0) {}
  uint64_t capacity() const { return capacity_; }
  uint64_t length() const { return length_; }
  uint64_t cursor() const { return cursor_; }  // the FIFO slot written next
  bool full() const { return length_ == capacity_; }

  // Records `n` FIFO writes starting at the cursor; returns the first slot.
  uint64_t advance(uint64_t n);
  // Records one write at `slot` (slot <= length; slot == length while filling).
  void record(uint64_t slot);
  void clear() { length_ = 0; cursor_ = 0; }  // write counts persist, so old keys stay stale

  uint64_t key(uint64_t slot) const { return (writes_[slot] - 1) * capacity_ + slot; }
  // Classifies `key` and gives its slot. Unknown: no item ever had that key.
  KeyState resolve(uint64_t key, uint64_t* slot) const;

 private:
  uint64_t capacity_;
  uint64_t length_ = 0;
  uint64_t cursor_ = 0;
  std::vector<uint64_t> writes_;
};

}  // namespace replaykit
