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

// Copies one row of `bytes` bytes; small fixed sizes as aligned loads.
inline void copy_row(uint8_t* dst, const uint8_t* src, size_t bytes) {
  switch (bytes) {
    case 1: *dst = *src; return;
    case 4: std::memcpy(dst, src, 4); return;
    case 8: std::memcpy(dst, src, 8); return;
    default: std::memcpy(dst, src, bytes);
  }
}

std::string schema_text(const Schema& schema) {
  std::string s;
  for (const Field& f : schema.fields()) {
    s += f.name + ":" + dtype_name(f.dtype) + "[";
    for (size_t k = 0; k < f.shape.size(); ++k) s += (k ? "," : "") + std::to_string(f.shape[k]);
    s += "];";
  }
  return s;
}

// Writes the informative header at the start of a storage file.
StorageFileHeader* write_header(const MappedFile& file, const Schema& schema, uint64_t rows) {
  auto* h = reinterpret_cast<StorageFileHeader*>(file.data());
  std::memset(h, 0, sizeof *h);
  std::memcpy(h->magic, "RKSTORE", 8);
  h->version = 1;
  h->header_bytes = sizeof(StorageFileHeader);
  h->rows = rows;
  h->row_bytes = schema.row_bytes();
  const std::string text = schema_text(schema);
  std::memcpy(h->schema, text.data(), std::min(text.size(), sizeof h->schema - 1));
  return h;
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

ColumnLayout::ColumnLayout(const Schema& schema, uint64_t rows) {
  for (const Field& f : schema.fields()) {
    if (rows != 0 && f.row_bytes > (SIZE_MAX / 4) / rows)
      fail(ErrorKind::Range, "capacity " + std::to_string(rows) + " is too large for field '" + f.name + "'");
    const size_t n = static_cast<size_t>(rows) * f.row_bytes;
    offsets.push_back(bytes);
    bytes += (n + 63) / 64 * 64;
    if (bytes > SIZE_MAX / 4) fail(ErrorKind::Range, "capacity " + std::to_string(rows) + " is too large");
  }
}

Columns::Columns(const Schema& schema, const ColumnLayout& layout, uint8_t* base) {
  for (size_t f = 0; f < schema.size(); ++f) {
    cols_.push_back(base + layout.offsets[f]);
    row_bytes_.push_back(schema[f].row_bytes);
  }
}

HeapBlock::HeapBlock(size_t bytes) : size_(bytes ? bytes : 64) {
  void* p = nullptr;
  if (posix_memalign(&p, 64, size_) != 0 || !p)
    fail(ErrorKind::Range, "cannot allocate " + std::to_string(bytes) + " bytes of memory");
  data_ = static_cast<uint8_t*>(p);
}

HeapBlock::~HeapBlock() { std::free(data_); }

// ---- MemoryStorage ----

MemoryStorage::MemoryStorage(Schema schema, uint64_t capacity)
    : Storage(std::move(schema), capacity), block_(ColumnLayout(schema_, capacity).bytes) {
  cols_ = Columns(schema_, ColumnLayout(schema_, capacity), block_.data());
}

void MemoryStorage::write(uint64_t slot, uint64_t n, const void* const* columns, uint64_t first_row) {
  for (size_t f = 0; f < schema_.size(); ++f) {
    const Field& fd = schema_[f];
    copy_elements(fd.dtype, cols_.row(f, slot), static_cast<const uint8_t*>(columns[f]) + first_row * fd.row_bytes,
                  static_cast<size_t>(n) * fd.elems);
  }
}

void MemoryStorage::gather(size_t f, const uint64_t* slots, size_t n, void* dst) const {
  gather_rows(cols_.column(f), schema_[f].row_bytes, slots, n, static_cast<uint8_t*>(dst));
}

// ---- MmapStorage ----

MmapStorage::MmapStorage(Schema schema, uint64_t capacity, const std::string& path)
    : Storage(std::move(schema), capacity) {
  const ColumnLayout layout(schema_, capacity);
  file_ = std::make_unique<MappedFile>(path, sizeof(StorageFileHeader) + layout.bytes);
  write_header(*file_, schema_, capacity);
  file_->advise_random(sizeof(StorageFileHeader));
  cols_ = Columns(schema_, layout, file_->data() + sizeof(StorageFileHeader));
}

void MmapStorage::write(uint64_t slot, uint64_t n, const void* const* columns, uint64_t first_row) {
  for (size_t f = 0; f < schema_.size(); ++f) {
    const Field& fd = schema_[f];
    copy_elements(fd.dtype, cols_.row(f, slot), static_cast<const uint8_t*>(columns[f]) + first_row * fd.row_bytes,
                  static_cast<size_t>(n) * fd.elems);
  }
}

void MmapStorage::gather(size_t f, const uint64_t* slots, size_t n, void* dst) const {
  gather_rows(cols_.column(f), schema_[f].row_bytes, slots, n, static_cast<uint8_t*>(dst));
}

// ---- TieredStorage ----

namespace {
uint64_t checked_hot(uint64_t capacity, uint64_t hot) {
  if (hot < 1 || hot >= capacity)
    fail(ErrorKind::Range, "hotCapacity must be an integer in [1, capacity - 1] = [1, " +
                               std::to_string(capacity - 1) + "], got " + std::to_string(hot));
  return hot;
}
}  // namespace

TieredStorage::TieredStorage(Schema schema, uint64_t capacity, uint64_t hot_capacity, const std::string& path)
    : Storage(std::move(schema), capacity),
      hot_rows_(checked_hot(capacity, hot_capacity)),
      cold_rows_(capacity - hot_capacity),
      hot_block_(ColumnLayout(schema_, hot_rows_).bytes) {
  hot_ = Columns(schema_, ColumnLayout(schema_, hot_rows_), hot_block_.data());
  const ColumnLayout cold_layout(schema_, cold_rows_);
  file_ = std::make_unique<MappedFile>(path, sizeof(StorageFileHeader) + cold_layout.bytes);
  header_ = write_header(*file_, schema_, cold_rows_);
  file_->advise_random(sizeof(StorageFileHeader));
  cold_ = Columns(schema_, cold_layout, file_->data() + sizeof(StorageFileHeader));
  loc_.assign(capacity, kNone);
  hot_slot_.assign(hot_rows_, kNone);
  cold_slot_.assign(cold_rows_, kNone);
}

void TieredStorage::clear() {
  std::fill(loc_.begin(), loc_.end(), kNone);
  std::fill(hot_slot_.begin(), hot_slot_.end(), kNone);
  std::fill(cold_slot_.begin(), cold_slot_.end(), kNone);
  hot_head_ = hot_count_ = cold_head_ = cold_count_ = 0;
  header_->count = header_->head = 0;
}

void TieredStorage::spill_hot_head_to(uint64_t cold_row) {
  const uint64_t h = hot_head_;
  const uint64_t moved = hot_slot_[h];
  for (size_t f = 0; f < schema_.size(); ++f) copy_row(cold_.row(f, cold_row), hot_.row(f, h), schema_[f].row_bytes);
  loc_[moved] = kCold | cold_row;
  cold_slot_[cold_row] = moved;
  hot_slot_[h] = kNone;
}

uint64_t TieredStorage::locate_for_write(uint64_t slot) {
  const uint64_t old = loc_[slot];
  if (old == kNone) {  // a fresh slot: the newest item
    uint64_t h;
    if (hot_count_ < hot_rows_) {
      h = (hot_head_ + hot_count_++) % hot_rows_;
    } else {  // RAM is full: its oldest item spills to the end of the file ring
      const uint64_t c = (cold_head_ + cold_count_++) % cold_rows_;
      spill_hot_head_to(c);
      h = hot_head_;
      hot_head_ = (hot_head_ + 1) % hot_rows_;
    }
    loc_[slot] = h;
    hot_slot_[h] = slot;
    return h;
  }
  if ((old & kCold) && (old & ~kCold) == cold_head_ && cold_count_ == cold_rows_ && hot_count_ == hot_rows_) {
    // FIFO: the oldest item overall goes; its file row takes RAM's oldest, the newcomer takes RAM's place.
    const uint64_t c = cold_head_;
    cold_slot_[c] = kNone;
    spill_hot_head_to(c);
    cold_head_ = (cold_head_ + 1) % cold_rows_;
    const uint64_t h = hot_head_;
    hot_head_ = (hot_head_ + 1) % hot_rows_;
    loc_[slot] = h;
    hot_slot_[h] = slot;
    return h;
  }
  return old;  // in place
}

const uint8_t* TieredStorage::row_of(size_t f, uint64_t location) const {
  return (location & kCold) ? cold_.row(f, location & ~kCold) : hot_.row(f, location);
}

void TieredStorage::write(uint64_t slot, uint64_t n, const void* const* columns, uint64_t first_row) {
  for (uint64_t r = 0; r < n; ++r) {
    const uint64_t location = locate_for_write(slot + r);
    for (size_t f = 0; f < schema_.size(); ++f) {
      const Field& fd = schema_[f];
      copy_elements(fd.dtype, const_cast<uint8_t*>(row_of(f, location)),
                    static_cast<const uint8_t*>(columns[f]) + (first_row + r) * fd.row_bytes, fd.elems);
    }
  }
  header_->count = cold_count_;
  header_->head = cold_head_;
}

void TieredStorage::gather(size_t f, const uint64_t* slots, size_t n, void* dst) const {
  const size_t bytes = schema_[f].row_bytes;
  auto* out = static_cast<uint8_t*>(dst);
  for (size_t i = 0; i < n; ++i) copy_row(out + i * bytes, row_of(f, loc_[slots[i]]), bytes);
}

}  // namespace replaykit
