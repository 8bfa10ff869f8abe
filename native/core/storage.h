// replaykit core: storage, where transitions live. A storage is a fixed array of
// `capacity` slots per field; the writer decides which slot a row goes to and the
// sampler which slots are read. (TorchRL's Storage plays the same part.)
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

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

  // Copies `n` rows of field `f` from `src` (row-major) into slots [slot, slot + n).
  // Bool fields are normalised to 0/1. Precondition: slot + n <= capacity.
  virtual void write(size_t f, uint64_t slot, const void* src, uint64_t n) = 0;
  // Copies the rows of field `f` at slots[0..n) into `dst`, one after another.
  // Precondition: every slot < capacity.
  virtual void gather(size_t f, const uint64_t* slots, size_t n, void* dst) const = 0;
  // Bytes of memory (or file) this storage holds.
  virtual size_t bytes() const = 0;

 protected:
  Schema schema_;
  uint64_t capacity_;
};

// One contiguous, 64-byte aligned column per field, allocated up front (pages are
// touched only when written, so resident memory grows with what is stored).
class MemoryStorage final : public Storage {
 public:
  // Throws Error(Range) when capacity * row size overflows or cannot be allocated.
  MemoryStorage(Schema schema, uint64_t capacity);
  ~MemoryStorage() override;
  void write(size_t f, uint64_t slot, const void* src, uint64_t n) override;
  void gather(size_t f, const uint64_t* slots, size_t n, void* dst) const override;
  size_t bytes() const override { return bytes_; }
  const uint8_t* column(size_t f) const { return columns_[f]; }

 private:
  std::vector<uint8_t*> columns_;
  size_t bytes_ = 0;
};

// Copies `n` elements of dtype `d`, normalising bool to 0/1.
void copy_elements(Dtype d, void* dst, const void* src, size_t n);
// Gathers fixed-size rows: dst[i] = base[slots[i] * row_bytes .. +row_bytes].
void gather_rows(const uint8_t* base, size_t row_bytes, const uint64_t* slots, size_t n, uint8_t* dst);

}  // namespace replaykit
