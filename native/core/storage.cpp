// The three storages (storage.h). Over 300 lines because the row copies they share sit
// beside them, and tiered storage's spilling between its tiers is one piece of logic that
// does not split well.
#include "storage.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "error.h"
#include "memory.h"

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

// Copies n bytes, inline for n <= 128 (two possibly overlapping loads and stores of the
// largest power-of-two size not above n, as libc's memcpy does inside, without its call
// and size dispatch: the fields of a row are small and copied by the thousand).
template <size_t K>
inline void copy_pair(uint8_t* dst, const uint8_t* src, size_t n) {
  uint8_t a[K], b[K];
  std::memcpy(a, src, K);
  std::memcpy(b, src + n - K, K);
  std::memcpy(dst, a, K);
  std::memcpy(dst + n - K, b, K);
}

inline void copy_field(uint8_t* dst, const uint8_t* src, size_t bytes) {
  if (bytes >= 16) {
    if (bytes <= 32) return copy_pair<16>(dst, src, bytes);
    if (bytes <= 64) return copy_pair<32>(dst, src, bytes);
    // if (bytes <= 128) return copy_pair<64>(dst, src, bytes);
    std::memcpy(dst, src, bytes);
  } else if (bytes >= 4) {
    if (bytes >= 8) return copy_pair<8>(dst, src, bytes);
    copy_pair<4>(dst, src, bytes);
  } else if (bytes >= 2) {
    copy_pair<2>(dst, src, bytes);
  } else if (bytes == 1) {
    *dst = *src;
  }
}

// Writes rows [first_row, first_row + n) of every column into consecutive rows of `rows`
// starting at row `at`: row by row, so each destination row is written whole while its
// lines are in cache (field by field would pass over the destination once per field).
void write_rows(const Schema& schema, const RowBlock& rows, uint64_t at, uint64_t n, const void* const* columns,
                uint64_t first_row) {
  const size_t fields = schema.size();
  constexpr size_t kPlanned = 16;
  for (size_t next = 0; next < fields;) {
    size_t count = 0, off[kPlanned], bytes[kPlanned];
    bool boolean[kPlanned];
    const uint8_t* src[kPlanned];
    for (; next < fields && count < kPlanned; ++next, ++count) {
      const Field& fd = schema[next];
      off[count] = rows.offset(next);
      bytes[count] = fd.row_bytes;
      boolean[count] = fd.dtype == Dtype::Bool;
      src[count] = static_cast<const uint8_t*>(columns[next]) + first_row * fd.row_bytes;
    }
    for (uint64_t r = 0; r < n; ++r) {
      uint8_t* row = rows.row(at + r);
      for (size_t k = 0; k < count; ++k) {
        const uint8_t* from = src[k] + r * bytes[k];
        if (boolean[k]) {
          for (size_t b = 0; b < bytes[k]; ++b) row[off[k] + b] = from[b] != 0;  // stored as 0 or 1
        } else {
          copy_field(row + off[k], from, bytes[k]);
        }
      }
    }
  }
}

// Gathers every requested field of the rows at row_of(slots[i]) (field f at row_of(at[f][i])
// when given) in one pass, prefetching a few items ahead so that their cache misses overlap.
// Only the lines of a row the fields read from it span are fetched: one field of a wide row
// costs its own lines, not the row's.
template <typename RowOf>
void gather_all_rows(const Schema& schema, const RowLayout& layout, const uint64_t* slots, size_t n,
                     void* const* outs, const uint64_t* const* at, RowOf row_of) {
  constexpr size_t kAhead = 8;
  constexpr size_t kPlanned = 16;
  // The requested fields as (source, row offset, bytes, destination) in plain local arrays, up
  // to 16 at a time (a wider schema takes one pass per 16 fields); each distinct slot list a
  // source, with the span of its fields in a row.
  for (size_t next = 0; next < schema.size();) {
    size_t count = 0, off[kPlanned], bytes[kPlanned], src[kPlanned];
    uint8_t* dst[kPlanned];
    size_t sources = 0, lo[kPlanned], hi[kPlanned];
    const uint64_t* from[kPlanned];
    for (; next < schema.size() && count < kPlanned; ++next) {
      if (!outs[next]) continue;
      const uint64_t* list = at && at[next] ? at[next] : slots;
      size_t j = 0;
      while (j < sources && from[j] != list) ++j;
      if (j == sources) {
        from[sources] = list;
        lo[sources] = layout.stride;
        hi[sources++] = 0;
      }
      off[count] = layout.offset[next];
      bytes[count] = schema[next].row_bytes;
      lo[j] = std::min(lo[j], off[count]);
      hi[j] = std::max(hi[j], off[count] + bytes[count]);
      src[count] = j;
      dst[count++] = static_cast<uint8_t*>(outs[next]);
    }
    if (count == 0) break;
    for (size_t j = 0; j < sources; ++j) hi[j] = std::min(hi[j], lo[j] + 512);
    const uint8_t* row[kPlanned];
    for (size_t i = 0; i < n + kAhead; ++i) {
      if (i < n) {  // item i's lines start coming while item i - kAhead is copied
        for (size_t j = 0; j < sources; ++j) {
          const uint8_t* r = row_of(from[j][i]);
          for (size_t b = lo[j]; b < hi[j]; b += 64) __builtin_prefetch(r + b);
          __builtin_prefetch(r + hi[j] - 1);  // the last byte's line, when the span is not line-aligned
        }
      }
      if (i < kAhead) continue;
      const size_t at_i = i - kAhead;
      for (size_t j = 0; j < sources; ++j) row[j] = row_of(from[j][at_i]);
      for (size_t k = 0; k < count; ++k) copy_field(dst[k] + at_i * bytes[k], row[src[k]] + off[k], bytes[k]);
    }
  }
}

template <typename RowOf>
void gather_field(const Schema& schema, const RowLayout& layout, size_t f, const uint64_t* slots, size_t n,
                  void* dst, RowOf row_of) {
  const size_t bytes = schema[f].row_bytes;
  for (size_t i = 0; i < n; ++i)
    copy_field(static_cast<uint8_t*>(dst) + i * bytes, row_of(slots[i]) + layout.offset[f], bytes);
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

// Writes the informative part of a storage file's header, after the preamble (magic,
// version, owner) that MappedFile wrote and owns.
StorageFileHeader* write_header(const MappedFile& file, const Schema& schema, uint64_t rows) {
  auto* h = reinterpret_cast<StorageFileHeader*>(file.data());
  std::memset(reinterpret_cast<uint8_t*>(h) + sizeof h->preamble, 0, sizeof *h - sizeof h->preamble);
  h->rows = rows;
  h->row_bytes = schema.row_bytes();
  const std::string text = schema_text(schema);
  std::memcpy(h->schema, text.data(), std::min(text.size(), sizeof h->schema - 1));
  return h;
}
}  // namespace

RowLayout::RowLayout(const Schema& schema) {
  size_t at = 0;
  for (const Field& f : schema.fields()) {
    const size_t align = dtype_size(f.dtype);
    at = (at + align - 1) / align * align;
    offset.push_back(at);
    at += f.row_bytes;
  }
  stride = (at + 7) / 8 * 8;
}

size_t RowLayout::block_bytes(uint64_t rows) const {
  if (rows != 0 && stride > (SIZE_MAX / 4) / rows)
    fail(ErrorKind::Range, "capacity " + std::to_string(rows) + " is too large for rows of " + std::to_string(stride) +
                               " bytes");
  return static_cast<size_t>(rows) * stride;
}

HeapBlock::HeapBlock(size_t bytes) : size_(bytes ? bytes : 64) {
  void* p = allocate_block(size_);
  if (!p) fail(ErrorKind::Range, "cannot allocate " + std::to_string(bytes) + " bytes of memory");
  data_ = static_cast<uint8_t*>(p);
}

HeapBlock::~HeapBlock() { free_block(data_); }

void Storage::fail_damaged() const {
  fail(ErrorKind::Storage, "the storage file '" + mapped_->path() +
                               "' was truncated or damaged by another process; the buffer can no longer be used");
}

// ---- RowStorage, MemoryStorage, MmapStorage ----
// A file storage checks its mapping before touching it (a damaged storage changes
// nothing) and after (a fault during the copy read zeros or wrote into a zero page: the
// result must not be used). Memory storage has no mapping: the checks are a null test.

void RowStorage::write(uint64_t slot, uint64_t n, const void* const* columns, uint64_t first_row) {
  check_intact();
  write_rows(schema_, rows_, slot, n, columns, first_row);
  check_intact();
}

void RowStorage::gather(size_t f, const uint64_t* slots, size_t n, void* dst) const {
  check_intact();
  gather_field(schema_, layout_, f, slots, n, dst, [this](uint64_t s) { return rows_.row(s); });
  check_intact();
}

void RowStorage::gather_all(const uint64_t* slots, size_t n, void* const* outs, const uint64_t* const* at) const {
  check_intact();
  gather_all_rows(schema_, layout_, slots, n, outs, at, [this](uint64_t s) { return rows_.row(s); });
  check_intact();
}

MemoryStorage::MemoryStorage(Schema schema, uint64_t capacity)
    : RowStorage(std::move(schema), capacity), block_(layout_.block_bytes(capacity)) {
  rows_ = RowBlock(layout_, block_.data());
}

MmapStorage::MmapStorage(Schema schema, uint64_t capacity, const std::string& path)
    : RowStorage(std::move(schema), capacity) {
  file_ = MappedFile::create_storage(path, sizeof(StorageFileHeader) + layout_.block_bytes(capacity));
  mapped_ = file_.get();
  write_header(*file_, schema_, capacity);
  file_->advise_random(sizeof(StorageFileHeader));
  rows_ = RowBlock(layout_, file_->data() + sizeof(StorageFileHeader));
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
      layout_(schema_),
      hot_rows_(checked_hot(capacity, hot_capacity)),
      cold_rows_(capacity - hot_capacity),
      hot_block_(layout_.block_bytes(hot_rows_)) {
  hot_ = RowBlock(layout_, hot_block_.data());
  file_ = MappedFile::create_storage(path, sizeof(StorageFileHeader) + layout_.block_bytes(cold_rows_));
  mapped_ = file_.get();
  header_ = write_header(*file_, schema_, cold_rows_);
  file_->advise_random(sizeof(StorageFileHeader));
  cold_ = RowBlock(layout_, file_->data() + sizeof(StorageFileHeader));
  loc_ = BlockArray<uint64_t>(capacity, kNone);
  hot_slot_.assign(hot_rows_, kNone);
  cold_slot_.assign(cold_rows_, kNone);
}

void TieredStorage::clear() {
  check_intact();
  std::fill(loc_.begin(), loc_.end(), kNone);
  std::fill(hot_slot_.begin(), hot_slot_.end(), kNone);
  std::fill(cold_slot_.begin(), cold_slot_.end(), kNone);
  hot_head_ = hot_count_ = cold_head_ = cold_count_ = 0;
  header_->count = header_->head = 0;
  check_intact();
}

void TieredStorage::spill_hot_head_to(uint64_t cold_row) {
  const uint64_t h = hot_head_;
  const uint64_t moved = hot_slot_[h];
  std::memcpy(cold_.row(cold_row), hot_.row(h), layout_.stride);
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

uint8_t* TieredStorage::row_of(uint64_t location) const {
  return (location & kCold) ? cold_.row(location & ~kCold) : hot_.row(location);
}

void TieredStorage::write(uint64_t slot, uint64_t n, const void* const* columns, uint64_t first_row) {
  check_intact();
  for (uint64_t r = 0; r < n; ++r) {
    uint8_t* row = row_of(locate_for_write(slot + r));
    for (size_t f = 0; f < schema_.size(); ++f) {
      const Field& fd = schema_[f];
      copy_elements(fd.dtype, row + layout_.offset[f],
                    static_cast<const uint8_t*>(columns[f]) + (first_row + r) * fd.row_bytes, fd.elems);
    }
  }
  header_->count = cold_count_;
  header_->head = cold_head_;
  check_intact();
}

void TieredStorage::gather(size_t f, const uint64_t* slots, size_t n, void* dst) const {
  check_intact();
  gather_field(schema_, layout_, f, slots, n, dst, [this](uint64_t s) { return row_of(loc_[s]); });
  check_intact();
}

void TieredStorage::gather_all(const uint64_t* slots, size_t n, void* const* outs, const uint64_t* const* at) const {
  check_intact();
  gather_all_rows(schema_, layout_, slots, n, outs, at, [this](uint64_t s) { return row_of(loc_[s]); });
  check_intact();
}

}  // namespace replaykit
