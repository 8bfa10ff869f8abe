// replaykit core: archives, checkpoint files that restore a buffer exactly and can be
// read in place (in the spirit of rkyv: a fixed, aligned, versioned layout, validated on
// open, no parse step for the data).
//
// Layout, little-endian:
//   [0, 256)        ArchiveHeader
//   [256, ...)      SectionEntry table (section_count entries of 32 bytes)
//   sections        each at an offset that is a multiple of 64, so a typed array can view it
// Sections:
//   Schema          one FieldRecord (80 bytes) per field, then the field names: the USER schema
//                   (what pushes take and batches return; derived.h)
//   FieldData[f]    the rows of STORED field f, oldest item first (position order):
//                   length * row_bytes. Without a Derived section the stored schema is the user
//                   schema; with one it is stored_schema() of it (no next field; a stacked
//                   field's newest frame only), which the Derived record rebuilds
//   Keys            uint64 key of each item, position order: 8 * length
//   Writes          uint64 write count of each slot: 8 * capacity
//   Inserted        uint64 insertion number of each slot (lowest-priority eviction only)
//   Priorities      float64 priority p of each item, position order (prioritized only)
//   Epoch           EpochRecord (64 bytes) then float64 keys of the epoch in progress (optional)
//   RateLimiter     RateLimiterRecord (128 bytes): the rate limiter's configuration and counters
//                   (optional: buffers made with one; its presence alone says so, no flag)
//   Episodes        the episode index (episodes.h: EpisodesRecord, then per stored slot and per
//                   env stream arrays) and the n-step option (optional: buffers that keep
//                   episodes; its presence alone says so)
//   Derived         observations stored once (derived.h; optional: its presence alone says so):
//                   DerivedRecord (32 bytes: the obs and next user fields, frames, validateNext),
//                   then the bytes of Derived::save() (readers' counts per slot, the side and
//                   kept frames); needs the Episodes section. Checked whole when restored
//   Extension[i]    a named blob the facade owns (e.g. replaykit/redis's exactly-once state):
//                   ExtensionRecord (16 bytes), the name (UTF-8), the data; opaque to the core,
//                   which checks its framing, its name (unique) and its checksum like any section
// Checksums: CRC-32 as zlib computes it (crc32.h), one per section over its bytes, and one
// over the header and section table (with its own field zero). This module owns all of it:
// ArchiveExporter computes them while it streams the sections out; parse_archive checks the
// structure and the header's checksum, in time independent of the data size; ChecksumVerifier
// checks the sections', a budget of bytes at a time.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "derived.h"
#include "episodes.h"
#include "rate_limiter.h"
#include "schema.h"

namespace replaykit {

class ReplayBuffer;

constexpr uint32_t kArchiveVersion = 1;
constexpr uint32_t kMaxExtensions = 64;          // Extension sections of one archive
constexpr uint32_t kMaxExtensionName = 256;      // UTF-8 bytes of an extension's name
constexpr uint64_t kMaxExtensionBytes = 1u << 30;  // bytes of an extension's data
constexpr uint32_t kMaxSections = 4096;  // above every schema's kMaxFields + 9 other sections + kMaxExtensions
constexpr uint32_t kMaxArchiveFields = kMaxFields;

enum class SectionKind : uint32_t {
  Schema = 1, FieldData = 2, Keys = 3, Writes = 4, Inserted = 5, Priorities = 6, Epoch = 7, RateLimiter = 8, Episodes = 9,
  Extension = 10, Derived = 11
};

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
// Uniform buffers' archives hold 0 in alpha .. sample_calls (archives of earlier versions hold
// the facade's defaults there); readers ignore those fields unless kArchivePrioritized is set.

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
  uint32_t flags;        // EpochFlags
  uint32_t reserved0;
  uint64_t reserved1;
};
static_assert(sizeof(EpochRecord) == 64, "an epoch record is 64 bytes");

enum EpochFlags : uint32_t {
  kEpochShuffle = 1u << 0,
  kEpochDropLast = 1u << 1,
  kEpochIterator = 1u << 2,  // an epoch iterator is set (else getNextBatch draws random batches)
  kEpochHasKeys = 1u << 3,   // the keys of the epoch in progress follow the record
};

// The head of a Derived section; the bytes of Derived::save() follow it.
struct DerivedRecord {
  uint32_t obs;          // the user field stored once
  uint32_t next;         // the user field rebuilt from the next item (no FieldData section)
  uint32_t frames;       // F (1: no frame stack)
  uint32_t flags;        // DerivedFlags
  uint64_t state_bytes;  // bytes of Derived::save() after the record: the section is 32 + state_bytes
  uint64_t reserved;
};
static_assert(sizeof(DerivedRecord) == 32, "a derived record is 32 bytes");

enum DerivedFlags : uint32_t {
  kDerivedValidateNext = 1u << 0,
};

// The rate limiter as archived (rate_limiter.h): its configuration as RateLimiterConfig holds
// it, its counters exactly, and whether it was enabled. Waiters are not state: a save has none
// to keep (the restored buffer is new), so a limiter that held inserts at the save holds them
// again after a load until samples bring diff back (see restore_rate_limiter).
struct RateLimiterRecord {
  double samples_per_insert;
  uint64_t min_size;
  double min_diff;        // -inf for MinSize
  double max_diff;        // +inf for MinSize
  double error_buffer;    // as stated (SampleToInsertRatio); +inf for MinSize
  double offset;
  uint64_t inserts;
  uint64_t samples;
  uint64_t insert_waits;
  uint64_t sample_waits;
  uint64_t insert_wait_ns;
  uint64_t sample_wait_ns;
  uint32_t flags;         // RateLimiterFlags
  uint32_t reserved0;
  uint64_t reserved[3];
};
static_assert(sizeof(RateLimiterRecord) == 128, "a rate limiter record is 128 bytes");

enum RateLimiterFlags : uint32_t {
  kRateLimiterDisabled = 1u << 0,  // set_enabled(false) at the save
};

// The record of a limiter as it is now.
RateLimiterRecord rate_limiter_record(const RateLimiter& limiter);

// The head of an Extension section; the name and then the data follow it.
struct ExtensionRecord {
  uint32_t name_length;  // 1..kMaxExtensionName
  uint32_t reserved;     // 0
  uint64_t data_length;  // 0..kMaxExtensionBytes; the section is 16 + name_length + data_length bytes
};
static_assert(sizeof(ExtensionRecord) == 16, "an extension record is 16 bytes");

// A named blob of the facade's, stored as it is.
struct ArchiveExtension {
  std::string name;
  std::vector<uint8_t> data;
};

// What the facade (and the binding) knows that the core's buffer does not: its generator, its
// seed, its epoch iteration (the record's key_count is set from epoch_keys), the rate limiter
// the binding keeps beside the buffer, and the facade's extensions.
struct ArchiveMeta {
  int32_t rng_state[4] = {0, 0, 0, 0};
  double seed = 0;
  bool has_epoch = false;
  EpochRecord epoch{};
  std::vector<double> epoch_keys;  // the epoch's keys as the facade holds them (JS numbers)
  bool has_rate_limiter = false;
  RateLimiterRecord rate_limiter{};
  std::vector<ArchiveExtension> extensions;  // names unique; at most kMaxExtensions
};

// A planned archive: its header and section table (crcs 0 until exported) and the bytes
// of the small sections the core encodes itself (Schema, and the Epoch record with its keys).
struct ArchivePlan {
  ArchiveHeader header{};
  std::vector<SectionEntry> sections;
  std::vector<uint8_t> schema_bytes;
  std::vector<uint8_t> epoch_bytes;
  std::vector<uint8_t> rate_limiter_bytes;
  std::vector<uint8_t> episodes_bytes;
  std::vector<uint8_t> derived_bytes;  // DerivedRecord then Derived::save()
  std::vector<std::vector<uint8_t>> extension_bytes;  // per Extension section (its index)
  uint64_t table_end = 0;  // where the header and table end
};

// Throws Error(Archive) for a field name an archive cannot hold, an epoch record that is
// not consistent (see parse_archive), or extensions beyond the limits above (too many, a name
// empty, too long or repeated, data too large).
ArchivePlan plan_archive(const ReplayBuffer& buffer, const ArchiveMeta& meta);

// The CRC-32 of an archive's header and section table (`table_end` bytes at `head`), computed
// with the header's own checksum field taken as zero.
uint32_t header_crc(const uint8_t* head, uint64_t table_end);

// Streams the archive of a buffer as it is at construction: the sections in file order, in
// chunks of any size, each section's CRC computed on the way; then the header and table with
// every CRC filled in. The buffer must outlive the exporter and not change meanwhile (the
// facade refuses changes while a save runs); drawing samples is fine.
class ArchiveExporter {
 public:
  ArchiveExporter(const ReplayBuffer& buffer, const ArchiveMeta& meta);
  const ArchivePlan& plan() const { return plan_; }
  uint64_t file_bytes() const { return plan_.header.file_bytes; }
  uint64_t head_bytes() const { return plan_.table_end; }
  // What the writes add up to: the head and every section (the file less its padding).
  uint64_t write_bytes() const;
  // Copies the next bytes (at most `cap`, at least 1 while any are left) into dst and sets
  // *position to their offset in the file; never spans two sections; whole items when `cap`
  // allows. Returns 0 once every section is out.
  uint64_t next(uint8_t* dst, uint64_t cap, uint64_t* position);
  bool done() const { return section_ == plan_.sections.size(); }
  // The header and section table with every checksum: Error(State) before done().
  std::vector<uint8_t> head() const;
  // Checks `n` bytes read back from the start of the written file: they must be head(), whose
  // header checksum holds. Error(Archive) if not.
  void check_head(const uint8_t* bytes, uint64_t n) const;

 private:
  // Pushes from other threads wait while the archive is exported (buffer.h, "Threads").
  struct Frozen {
    explicit Frozen(const ReplayBuffer& b);
    ~Frozen();
    Frozen(const Frozen&) = delete;
    Frozen& operator=(const Frozen&) = delete;
    const ReplayBuffer& b;
  };
  const ReplayBuffer& buffer_;
  Frozen frozen_;
  ArchivePlan plan_;
  std::vector<uint32_t> crcs_;
  size_t section_ = 0;  // the section being exported
  uint64_t at_ = 0;     // bytes of it already out
  std::vector<uint8_t> item_;  // scratch: an item split across chunks
};

// Item size of a section (what export_items counts in): a row of a field of `stored` (the stored
// schema: the storage's), 8 bytes for the per-item and per-slot arrays, 1 byte for the others.
uint64_t section_item_bytes(const Schema& stored, const SectionEntry& s);

// Copies items [first, first + count) of section s (FieldData of a stored field, Keys, Writes,
// Inserted, Priorities) of `buffer` to dst. Throws Error(Archive) for any other section or range.
void export_items(const ReplayBuffer& buffer, const SectionEntry& s, uint64_t first, uint64_t count, uint8_t* dst);

// The whole archive of `buffer` in memory, checksums included (ArchiveExporter in one go:
// for tests and the fuzzer's seeds).
std::vector<uint8_t> encode_archive(const ReplayBuffer& buffer, const ArchiveMeta& meta);

// A validated archive over bytes in memory (a mapped file).
struct ArchiveView {
  const uint8_t* base = nullptr;
  uint64_t size = 0;
  ArchiveHeader header{};
  Schema schema;  // the user schema (the Schema section)
  Schema stored;  // the stored schema: the FieldData sections' (schema, without a Derived section)
  std::vector<SectionEntry> sections;
  int schema_section = -1, keys = -1, writes = -1, inserted = -1, priorities = -1, epoch = -1, rate_limiter = -1, episodes = -1,
      derived = -1;
  std::vector<int> field_data;  // per stored field
  std::vector<size_t> stored_of;  // per user field: its stored field, or kNoField (the next field)
  std::vector<int> extensions;  // Extension sections, by index

  // The name and the data of extension i (0 <= i < extensions.size()), pointing into the bytes.
  std::string extension_name(size_t i) const;
  const uint8_t* extension_data(size_t i, uint64_t* length) const;

  bool prioritized() const { return header.flags & kArchivePrioritized; }
  bool lowest_priority() const { return header.flags & kArchiveLowestPriority; }
  const uint8_t* at(int section) const { return base + sections[section].offset; }
  EpochRecord epoch_record() const;
  // The RateLimiter section's record (validated by parse_archive); zeros when there is none.
  RateLimiterRecord rate_limiter_record() const;
  // The Episodes section's record (its framing validated by parse_archive; the index itself
  // is checked when restored); zeros when there is none.
  EpisodesRecord episodes_record() const;
  // The Derived section's record (validated by parse_archive, with the stored schema it gives);
  // zeros when there is none. Its state bytes follow it (checked when restored).
  DerivedRecord derived_record() const;
  const uint8_t* derived_state() const { return at(derived) + sizeof(DerivedRecord); }
};

// Checks the structure of `size` bytes at `data`: magic, version, bounds, alignment, no
// overlaps, sections consistent with the schema and counts, header values in range (the
// prioritized options, the seed, the generator state, the epoch record), then the header's
// checksum. Time independent of the data; allocates nothing proportional to the counts it
// reads. Throws Error(Archive) saying what is wrong.
ArchiveView parse_archive(const uint8_t* data, uint64_t size);

// What a section is called in messages: "schema", "field 'obs'", "keys", ...
std::string section_label(const ArchiveView& v, size_t section);

// Verifies the sections' checksums in file order, a budget of bytes per step (so a caller
// can yield between steps).
class ChecksumVerifier {
 public:
  // Checksums up to `budget` more bytes (at least one section's worth of progress unless all
  // are done). Throws Error(Archive) naming the first section whose checksum does not match.
  // Returns true once every section has been verified.
  bool step(const ArchiveView& v, uint64_t budget);
  uint64_t bytes_verified() const { return verified_; }

 private:
  size_t section_ = 0;
  uint64_t at_ = 0;
  uint32_t crc_ = 0;
  uint64_t verified_ = 0;
};

// Whether each section's checksum holds (reads every section; for reports).
std::vector<bool> check_sections(const ArchiveView& v);

// The configuration and counters of an archive's RateLimiter section (parse_archive has
// checked them: a valid configuration, minSize within the capacity, a finite offset).
RateLimiterConfig rate_limiter_config(const RateLimiterRecord& r);
RateLimiterCounters rate_limiter_counters(const RateLimiterRecord& r);

// Throws Error(Archive) unless the archive's limiter fits `limiter` (null: the buffer has
// none): both absent, or both present with the same configuration, bit for bit (the options
// of a load must agree with the archive; the facade says which option differs first).
void check_rate_limiter_fits(const ArchiveView& archive, const RateLimiter* limiter);
// check_rate_limiter_fits, then gives `limiter` the archive's counters exactly and its
// enabled flag. Reverb issue 103 (a restored limiter that holds inserts hangs a program that
// only inserts): the state is restored as saved, since the learner's next samples release it;
// replaykit's synchronous push never waits (it only counts), so no program hangs on it, and
// pushAsync takes a timeout or a signal.
void restore_rate_limiter(const ArchiveView& archive, RateLimiter* limiter);

class Storage;
// An empty buffer of the archive's kind (uniform or prioritized, alpha, eviction, episodes and
// n-step returns, observations stored once) on `storage` (which holds the archive's stored
// schema), ready for restore(); memory storage of the archive's capacity when null.
std::unique_ptr<ReplayBuffer> make_buffer_for(const ArchiveView& archive, std::unique_ptr<Storage> storage = nullptr);

}  // namespace replaykit
