#include "storage.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "error.h"

namespace replaykit {

void copy_elements(Dtype d, void* dst, const void* src, size_t n) {
  if (d == Dtype::Bool) {
    auto* o = static_cast<uint8_t*>(dst);
    const auto* i = static_cast<const uint8_t*>(src);
    for (size_t k = 0; k < n; ++k) o[k] = i[k] != 0;
  } else if (n) {
    std::memmove(dst, src, n * dtype_size(d));
  }
}

namespace {
template <typename T>
void gather_fixed(const uint8_t* base, const uint64_t* slots, size_t n, uint8_t* dst) {
  const T* b = reinterpret_cast<const T*>(base);
  T* o = reinterpret_cast<T*>(dst);
  for (size_t i = 0; i < n; ++i) o[i] = b[slots[i]];
}
}  // namespace

void gather_rows(const uint8_t* base, size_t row_bytes, const uint64_t* slots, size_t n, uint8_t* dst) {
  // Columns are aligned and rows are whole elements, so the fixed-size cases are aligned loads.
  switch (row_bytes) {
    case 1: gather_fixed<uint8_t>(base, slots, n, dst); return;
    case 4: gather_fixed<uint32_t>(base, slots, n, dst); return;
    case 8: gather_fixed<uint64_t>(base, slots, n, dst); return;
    default:
      for (size_t i = 0; i < n; ++i) std::memcpy(dst + i * row_bytes, base + slots[i] * row_bytes, row_bytes);
  }
}

MemoryStorage::MemoryStorage(Schema schema, uint64_t capacity) : Storage(std::move(schema), capacity) {
  columns_.reserve(schema_.size());
  for (const Field& f : schema_.fields()) {
    if (capacity != 0 && f.row_bytes > SIZE_MAX / 2 / capacity) {
      for (uint8_t* c : columns_) std::free(c);
      fail(ErrorKind::Range, "capacity " + std::to_string(capacity) + " is too large for field '" + f.name + "'");
    }
    size_t n = static_cast<size_t>(capacity) * f.row_bytes;
    size_t rounded = (n + 63) / 64 * 64;
    void* p = nullptr;
    if (posix_memalign(&p, 64, rounded ? rounded : 64) != 0 || !p) {
      for (uint8_t* c : columns_) std::free(c);
      fail(ErrorKind::Range, "cannot allocate " + std::to_string(n) + " bytes for field '" + f.name +
                                 "' (capacity " + std::to_string(capacity) + ")");
    }
    columns_.push_back(static_cast<uint8_t*>(p));
    bytes_ += rounded;
  }
}

MemoryStorage::~MemoryStorage() {
  for (uint8_t* c : columns_) std::free(c);
}

void MemoryStorage::write(size_t f, uint64_t slot, const void* src, uint64_t n) {
  const Field& fd = schema_[f];
  copy_elements(fd.dtype, columns_[f] + slot * fd.row_bytes, src, static_cast<size_t>(n) * fd.elems);
}

void MemoryStorage::gather(size_t f, const uint64_t* slots, size_t n, void* dst) const {
  gather_rows(columns_[f], schema_[f].row_bytes, slots, n, static_cast<uint8_t*>(dst));
}

}  // namespace replaykit
