// replaykit core: archives, checkpoint files that restore a buffer exactly and can be
// read in place (in the spirit of rkyv: a fixed, aligned, versioned layout, validated on
// open, no parse step for the data).
//
// Layout, little-endian:
//   [0, 256)        ArchiveHeader
//   [256, ...)      SectionEntry table (section_count entries of 32 bytes)
//   sections        each at an offset that is a multiple of 64, so a typed array can view it
// Sections:
//   Schema          one FieldRecord (80 bytes) per field, then the field names
//   FieldData[f]    the rows of field f, oldest item first (position order): length * row_bytes
//   Keys            uint64 key of each item, position order: 8 * length
//   Writes          uint64 write count of each slot: 8 * capacity
//   Inserted        uint64 insertion number of each slot (lowest-priority eviction only)
//   Priorities      float64 priority p of each item, position order (prioritized only)
//   Epoch           EpochRecord (64 bytes) then float64 keys of the epoch in progress (optional)
// Checksums (CRC-32, as zlib computes it) are computed and verified by the facade with
// Node's zlib; this module checks structure only, in time independent of the data size.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "schema.h"

namespace replaykit {

class ReplayBuffer;

constexpr uint32_t kArchiveVersion = 1;
constexpr uint32_t kMaxSections = 4096;
constexpr uint32_t kMaxArchiveFields = 1024;

enum class SectionKind : uint32_t { Schema = 1, FieldData = 2, Keys = 3, Writes = 4, Inserted = 5, Priorities = 6, Epoch = 7 };

enum ArchiveFlags : uint32_t {
  kArchivePrioritized = 1u << 0,
  kArchiveLowestPriority = 1u << 1,
  kArchiveHasEpoch = 1u << 2,
};

struct ArchiveHeader {
  char magic[8];            // "RKARCHIV"
  uint32_t version;         // kArchiveVersion
  uint32_t flags;           // ArchiveFlags
  uint64_t file_bytes;      // the whole file
  uint32_t header_bytes;    // sizeof(ArchiveHeader)
  uint32_t section_count;   // entries in the table that follows the header
  uint32_t field_count;
  uint32_t reserved0;
  uint64_t capacity;
  uint64_t length;
  uint64_t cursor;          // the FIFO slot written next
  uint64_t inserted_count;  // insertions so far (lowest-priority eviction's order)
  double alpha;
  double beta_start;
  double beta_end;
  double epsilon;
  double max_priority;
  uint64_t beta_frames;
  uint64_t sample_calls;    // beta's progress
  int32_t rng_state[4];     // the facade's generator (pure-rand xoroshiro128+)
  double seed;
  uint8_t reserved[100];
  uint32_t header_crc;      // CRC-32 of this header (with this field 0) and the section table
};
static_assert(sizeof(ArchiveHeader) == 256, "the archive header is 256 bytes");

struct SectionEntry {
  uint32_t kind;    // SectionKind
  uint32_t index;   // the field, for FieldData; 0 otherwise
  uint64_t offset;  // from the start of the file; a multiple of 64
  uint64_t length;  // bytes
  uint32_t crc;     // CRC-32 of the section's bytes
  uint32_t reserved;
};
static_assert(sizeof(SectionEntry) == 32, "a section entry is 32 bytes");

struct FieldRecord {
  uint8_t dtype;
  uint8_t ndim;
  uint16_t name_length;
  uint32_t name_offset;  // within the Schema section
  uint64_t shape[8];
  uint64_t reserved;
};
static_assert(sizeof(FieldRecord) == 80, "a field record is 80 bytes");

struct EpochRecord {
  uint64_t n_epochs;
  uint64_t epoch;        // epochs begun
  uint64_t cursor;       // keys of the current epoch consumed
  uint64_t batch_size;
  uint64_t random_batch_size;  // > 0: getNextBatch samples at random
  uint64_t key_count;    // float64 keys after this record
  uint32_t flags;        // bit 0 shuffle, bit 1 dropLast, bit 2 an epoch iterator is set
  uint32_t reserved0;
  uint64_t reserved1;
};
static_assert(sizeof(EpochRecord) == 64, "an epoch record is 64 bytes");

// What the facade knows that the core does not: options and generator state.
struct ArchiveMeta {
  double beta_start = 0.4, beta_end = 1.0, epsilon = 1e-6;
  uint64_t beta_frames = 100000, sample_calls = 0;
  int32_t rng_state[4] = {0, 0, 0, 0};
  double seed = 0;
  bool has_epoch = false;
  EpochRecord epoch{};
};

// A planned archive: its header and section table (crcs 0 until written) and the bytes
// of the small sections the core encodes itself (Schema, and the Epoch record).
struct ArchivePlan {
  ArchiveHeader header{};
  std::vector<SectionEntry> sections;
  std::vector<uint8_t> schema_bytes;
  uint64_t table_end = 0;  // where the header and table end
};

ArchivePlan plan_archive(const ReplayBuffer& buffer, const ArchiveMeta& meta);

// Item size of a section (what export_items counts in): a row of a field, 8 bytes for the
// per-item and per-slot arrays, 1 byte for Schema and Epoch.
uint64_t section_item_bytes(const Schema& schema, const SectionEntry& s);

// Copies items [first, first + count) of section s (FieldData, Keys, Writes, Inserted,
// Priorities) of `buffer` to dst. Throws Error(Archive) for any other section or range.
void export_items(const ReplayBuffer& buffer, const SectionEntry& s, uint64_t first, uint64_t count, uint8_t* dst);

// The whole archive of `buffer` in memory, checksums left 0 (the facade streams archives
// to disk itself and computes them; this is for tests and the fuzzer's seeds).
std::vector<uint8_t> encode_archive(const ReplayBuffer& buffer, const ArchiveMeta& meta);

// A validated archive over bytes in memory (a mapped file).
struct ArchiveView {
  const uint8_t* base = nullptr;
  uint64_t size = 0;
  ArchiveHeader header{};
  Schema schema;
  std::vector<SectionEntry> sections;
  int schema_section = -1, keys = -1, writes = -1, inserted = -1, priorities = -1, epoch = -1;
  std::vector<int> field_data;  // per field

  bool prioritized() const { return header.flags & kArchivePrioritized; }
  bool lowest_priority() const { return header.flags & kArchiveLowestPriority; }
  const uint8_t* at(int section) const { return base + sections[section].offset; }
  EpochRecord epoch_record() const;
};

// Checks the structure of `size` bytes at `data`: magic, version, bounds, alignment, no
// overlaps, sections consistent with the schema and counts. Time independent of the data;
// allocates nothing proportional to the counts it reads. Throws Error(Archive) saying
// what is wrong.
ArchiveView parse_archive(const uint8_t* data, uint64_t size);

class Storage;
// An empty buffer of the archive's kind (uniform or prioritized, alpha, eviction) on
// `storage`, ready for restore(); memory storage of the archive's capacity when null.
std::unique_ptr<ReplayBuffer> make_buffer_for(const ArchiveView& archive, std::unique_ptr<Storage> storage = nullptr);

}  // namespace replaykit
