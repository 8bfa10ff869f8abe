// replaykit core: storage, where transitions live. A storage holds `capacity` logical
// slots of every field; the writer decides which slot a row goes to and the sampler
// which slots are read. (TorchRL's Storage plays the same part.)
//
// Rows are stored whole (row-major, see RowLayout): a sampled row costs a few
// neighbouring cache lines rather than one line per field. Three storages:
// - MemoryStorage: the rows in one 64-byte aligned block of RAM.
// - MmapStorage:   the rows in a memory-mapped file, after a one-page header.
// - TieredStorage: the newest `hot_capacity` items in RAM, older ones spilled into a
//                  memory-mapped file used as a ring of capacity - hot_capacity rows.
//
// The file storages' files follow MappedFile's contract (file.h): created new or taken
// over from a dead replaykit process, anything else refused untouched; no descriptor
// kept open; deleted when the storage is destroyed, if the path still names that file.
// If someone else truncates the file, the storage is damaged for good: the operation
// that notices and every later one throw Error(Storage) (check_intact), instead of the
// process dying of SIGBUS.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "file.h"
#include "memory.h"
#include "schema.h"

namespace replaykit {

class Storage {
 public:
  Storage(Schema schema, uint64_t capacity) : schema_(std::move(schema)), capacity_(capacity) {}
  virtual ~Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  const Schema& schema() const { return schema_; }
  uint64_t capacity() const { return capacity_; }

  // Copies rows [first_row, first_row + n) of every column (columns[f] is row-major)
  // into slots [slot, slot + n). Bool fields are normalised to 0/1.
  // Precondition: slot + n <= capacity.
  virtual void write(uint64_t slot, uint64_t n, const void* const* columns, uint64_t first_row) = 0;
  // Copies the rows of field `f` at slots[0..n) into `dst`, one after another.
  // Precondition: every slot < capacity and holds an item.
  virtual void gather(size_t f, const uint64_t* slots, size_t n, void* dst) const = 0;
  // Copies the rows at slots[0..n) of every field f with outs[f] != nullptr into outs[f];
  // field f from at[f][0..n) instead when `at` and at[f] are not null (n-step items read
  // nextObs at another item's row). Row storages read each row once for all its fields, and
  // overlap the misses of every row read.
  virtual void gather_all(const uint64_t* slots, size_t n, void* const* outs, const uint64_t* const* at) const {
    for (size_t f = 0; f < schema_.size(); ++f)
      if (outs[f]) gather(f, at && at[f] ? at[f] : slots, n, outs[f]);
  }
  // Where field f of the item at `slot` lives, for reads that pick parts of rows (derived.h).
  // Valid until the slot is written or (tiered) any write moves items; the caller keeps writers off.
  virtual const uint8_t* field_at(size_t f, uint64_t slot) const = 0;
  // A hint: the bytes [lo, hi) of slot's row (offsets from field 0's place) are read soon. A
  // row storage fetches their lines; one that must look the row up first (tiered) fetches only
  // what the lookup reads, as waiting for it here would stall the caller's walk.
  virtual void prefetch(uint64_t slot, ptrdiff_t lo, ptrdiff_t hi) const = 0;
  // Forgets every item (the buffer was cleared).
  virtual void clear() {}
  // Whether write and gather may run on several threads at once for distinct slots (each
  // slot is written in place, nothing else moves).
  virtual bool concurrent_writes() const { return false; }
  // Bytes of RAM this storage holds (reserved, not necessarily resident).
  virtual size_t bytes() const = 0;
  // Bytes of disk this storage holds.
  virtual size_t file_bytes() const { return 0; }

  // Whether the storage's file was truncated or damaged by another process (never for
  // memory storage). Sticky: a damaged storage stays damaged.
  bool damaged() const { return mapped_ && mapped_->damaged(); }
  // Throws Error(Storage) when damaged(). write, gather, gather_all and clear call it
  // before and after touching the file; a buffer calls it before changing its own state
  // (so that a push into a damaged file does not advance the writer) and to refuse every
  // operation once the file is damaged.
  void check_intact() const {
    if (damaged()) fail_damaged();
  }

 protected:
  [[noreturn]] void fail_damaged() const;
  Schema schema_;
  uint64_t capacity_;
  const MappedFile* mapped_ = nullptr;  // the file storage's mapping, set by subclasses
};

// Where each field sits in a row: rows are stored whole (row-major), so a sampled row
// costs a few neighbouring cache lines rather than one line per field. Every field is
// aligned to its element size; a row is padded to a multiple of 8 bytes.
struct RowLayout {
  explicit RowLayout(const Schema& schema);
  // Bytes of `rows` rows; Error(Range) when that overflows.
  size_t block_bytes(uint64_t rows) const;
  std::vector<size_t> offset;  // per field
  size_t stride = 0;           // bytes per row
};

// Rows over a block of memory (heap or mapped file).
class RowBlock {
 public:
  RowBlock() = default;
  RowBlock(const RowLayout& layout, uint8_t* base) : base_(base), stride_(layout.stride), offset_(layout.offset) {}
  uint8_t* row(uint64_t r) const { return base_ + r * stride_; }
  uint8_t* at(size_t f, uint64_t r) const { return base_ + r * stride_ + offset_[f]; }
  size_t stride() const { return stride_; }
  size_t offset(size_t f) const { return offset_[f]; }

 private:
  uint8_t* base_ = nullptr;
  size_t stride_ = 0;
  std::vector<size_t> offset_;
};

// A heap block, 64-byte aligned; pages are touched only when written.
class HeapBlock {
 public:
  explicit HeapBlock(size_t bytes);  // Error(Range) when it cannot be allocated
  ~HeapBlock();
  HeapBlock(const HeapBlock&) = delete;
  HeapBlock& operator=(const HeapBlock&) = delete;
  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Slot s lives at row s of one block of rows (RAM or a mapped file).
class RowStorage : public Storage {
 public:
  void write(uint64_t slot, uint64_t n, const void* const* columns, uint64_t first_row) override;
  void gather(size_t f, const uint64_t* slots, size_t n, void* dst) const override;
  void gather_all(const uint64_t* slots, size_t n, void* const* outs, const uint64_t* const* at) const override;
  const uint8_t* field_at(size_t f, uint64_t slot) const override { return rows_.at(f, slot); }
  void prefetch(uint64_t slot, ptrdiff_t lo, ptrdiff_t hi) const override {
    const uint8_t* row = rows_.at(0, slot);
    for (ptrdiff_t b = lo; b < hi; b += 64) __builtin_prefetch(row + b);
    __builtin_prefetch(row + hi - 1);  // the last byte's line, when the span is not line-aligned
  }
  void clear() override { check_intact(); }
  bool concurrent_writes() const override { return true; }

 protected:
  RowStorage(Schema schema, uint64_t capacity) : Storage(std::move(schema), capacity), layout_(schema_) {}
  RowLayout layout_;
  RowBlock rows_;  // set by the subclass once it has the memory
};

// Every item in RAM.
class MemoryStorage final : public RowStorage {
 public:
  // Throws Error(Range) when capacity * row size overflows or cannot be allocated.
  MemoryStorage(Schema schema, uint64_t capacity);
  size_t bytes() const override { return block_.size(); }

 private:
  HeapBlock block_;
};

// The header page at the start of a storage file (little-endian; informative apart from
// the preamble, which says the file is a replaykit storage file and who uses it: the file
// is private to one buffer and deleted when it closes).
struct StorageFileHeader {
  StorageFilePreamble preamble;  // magic "RKSTORE\0", version 2, header_bytes, owner (file.h)
  uint64_t rows;                 // rows the file holds
  uint64_t row_bytes;            // bytes of one transition, all fields
  uint64_t count;                // rows in use (tiered cold ring)
  uint64_t head;                 // the oldest row (tiered cold ring)
  char schema[3912];             // "name:dtype[shape];..." (truncated if longer)
};
static_assert(sizeof(StorageFileHeader) == kStorageHeaderBytes, "the header is one page");

// Every item in a memory-mapped file at `path`.
class MmapStorage final : public RowStorage {
 public:
  // Throws Error(Storage) for a file fault, Error(Range) for an absurd size.
  MmapStorage(Schema schema, uint64_t capacity, const std::string& path);
  size_t bytes() const override { return 0; }
  size_t file_bytes() const override { return file_->size(); }

 private:
  std::unique_ptr<MappedFile> file_;
};

// The newest hot_capacity items in RAM; older ones in a file ring of
// capacity - hot_capacity rows. Items move, slots do not: a slot's item keeps its
// slot (and so its priority) when it spills from RAM to the file.
//
// A write to a fresh slot appends the item as the newest: when RAM is full, its oldest
// item spills into the file. A write over the oldest item overall (FIFO) recycles that
// item's file row for the spill. Any other overwrite (lowest-priority eviction) takes
// the evicted item's place, in whichever tier it was.
class TieredStorage final : public Storage {
 public:
  // Throws Error(Range) unless 1 <= hot_capacity < capacity; Error(Storage) for a file fault.
  TieredStorage(Schema schema, uint64_t capacity, uint64_t hot_capacity, const std::string& path);
  void write(uint64_t slot, uint64_t n, const void* const* columns, uint64_t first_row) override;
  void gather(size_t f, const uint64_t* slots, size_t n, void* dst) const override;
  void gather_all(const uint64_t* slots, size_t n, void* const* outs, const uint64_t* const* at) const override;
  const uint8_t* field_at(size_t f, uint64_t slot) const override { return row_of(loc_[slot]) + layout_.offset[f]; }
  void prefetch(uint64_t slot, ptrdiff_t, ptrdiff_t) const override { __builtin_prefetch(&loc_[slot]); }
  void clear() override;
  size_t bytes() const override { return hot_block_.size() + loc_.size() * 8 * 3; }
  size_t file_bytes() const override { return file_->size(); }

  uint64_t hot_capacity() const { return hot_rows_; }
  uint64_t hot_count() const { return hot_count_; }
  uint64_t cold_count() const { return cold_count_; }
  bool is_hot(uint64_t slot) const { return loc_[slot] != kNone && !(loc_[slot] & kCold); }

 private:
  static constexpr uint64_t kNone = ~uint64_t(0);
  static constexpr uint64_t kCold = uint64_t(1) << 63;

  uint64_t locate_for_write(uint64_t slot);  // the location the new item goes to
  void spill_hot_head_to(uint64_t cold_row);
  uint8_t* row_of(uint64_t location) const;

  RowLayout layout_;
  uint64_t hot_rows_, cold_rows_;
  HeapBlock hot_block_;
  RowBlock hot_;
  std::unique_ptr<MappedFile> file_;
  StorageFileHeader* header_ = nullptr;
  RowBlock cold_;
  BlockArray<uint64_t> loc_;       // per slot: kNone, a hot row, or kCold | a cold row (read by every gather)
  std::vector<uint64_t> hot_slot_;  // per hot row: its slot
  std::vector<uint64_t> cold_slot_; // per cold row: its slot
  uint64_t hot_head_ = 0, hot_count_ = 0, cold_head_ = 0, cold_count_ = 0;
};

// Copies `n` elements of dtype `d`, normalising bool to 0/1.
void copy_elements(Dtype d, void* dst, const void* src, size_t n);

}  // namespace replaykit
