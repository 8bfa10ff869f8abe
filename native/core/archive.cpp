#include "archive.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "buffer.h"
#include "crc32.h"
#include "detmath.h"
#include "error.h"

namespace replaykit {

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "replaykit archives are little-endian and read in place: a big-endian host is not supported"
#endif

namespace {

constexpr char kMagic[8] = {'R', 'K', 'A', 'R', 'C', 'H', 'I', 'V'};

uint64_t align64(uint64_t x) { return (x + 63) / 64 * 64; }

constexpr uint64_t kMaxExact = uint64_t(1) << 53;  // counts a JS number holds exactly
constexpr uint32_t kEpochFlagsKnown = kEpochShuffle | kEpochDropLast | kEpochIterator | kEpochHasKeys;

[[noreturn]] void bad(const std::string& what) { fail(ErrorKind::Archive, "not a valid archive: " + what); }

// What is wrong with an epoch record as the facade's iteration state can be (capacity: the
// buffer's), or "" when nothing is: the same rules for what is written and what is read.
std::string epoch_record_problem(const EpochRecord& r, uint64_t capacity) {
  if (r.flags & ~kEpochFlagsKnown) return "unknown epoch flags";
  if (r.reserved0 != 0 || r.reserved1 != 0) return "reserved epoch bytes are not zero";
  if (r.random_batch_size > capacity || r.random_batch_size >= (uint64_t(1) << 32))
    return "the random batch size " + std::to_string(r.random_batch_size) + " exceeds the capacity " + std::to_string(capacity);
  const bool iterator = r.flags & kEpochIterator, keys = r.flags & kEpochHasKeys;
  if (iterator == (r.random_batch_size > 0)) return "the epoch state is neither an iterator nor random batches";
  if (!keys && r.key_count != 0) return "epoch keys without the flag that says so";
  if (r.key_count > capacity) return "more epoch keys than the capacity";
  if (r.cursor > r.key_count) return "the epoch cursor is past its keys";
  if (iterator) {
    if (r.batch_size == 0 || r.batch_size > kMaxExact) return "the epoch batch size " + std::to_string(r.batch_size);
    if (r.n_epochs > kMaxExact || r.epoch > r.n_epochs) return "more epochs begun than the epoch count";
    if (keys != (r.epoch > 0)) return "epoch keys and the epochs begun disagree";
  } else if (r.batch_size || r.n_epochs || r.epoch || r.cursor || r.flags != 0) {
    return "random batches with an epoch iterator's state";
  }
  return "";
}

const char* kind_name(uint32_t k) {
  switch (static_cast<SectionKind>(k)) {
    case SectionKind::Schema: return "schema";
    case SectionKind::FieldData: return "field data";
    case SectionKind::Keys: return "keys";
    case SectionKind::Writes: return "writes";
    case SectionKind::Inserted: return "insertion order";
    case SectionKind::Priorities: return "priorities";
    case SectionKind::Epoch: return "epoch state";
    case SectionKind::RateLimiter: return "rate limiter";
    case SectionKind::Episodes: return "episode index";
    case SectionKind::Extension: return "extension";
    case SectionKind::Derived: return "derived fields";
  }
  return "unknown";
}

// What is wrong with a rate limiter record for a buffer of `capacity` items, or "" when
// nothing is: the same rules for what is written and what is read.
std::string rate_limiter_problem(const RateLimiterRecord& r, uint64_t capacity) {
  if (r.flags & ~uint32_t(kRateLimiterDisabled)) return "unknown rate limiter flags";
  if (r.reserved0 != 0 || r.reserved[0] != 0 || r.reserved[1] != 0 || r.reserved[2] != 0)
    return "reserved rate limiter bytes are not zero";
  const RateLimiterConfig c = rate_limiter_config(r);
  try {
    RateLimiter::validate(c);
    // Only the two forms the options make: MinSize, or SampleToInsertRatio whose range is
    // exactly what its stated error buffer gives.
    const RateLimiterConfig expect = std::isinf(c.error_buffer) && c.error_buffer > 0
                                         ? RateLimiter::min_size(c.min_size)
                                         : RateLimiter::sample_to_insert_ratio(c.samples_per_insert, c.min_size, c.error_buffer);
    if (std::memcmp(&expect, &c, sizeof c) != 0) return "the rate limiter's range disagrees with its options";
  } catch (const Error& e) {
    return std::string("rate limiter: ") + e.what();
  }
  if (c.min_size > capacity)
    return "the rate limiter's minSize " + std::to_string(c.min_size) + " exceeds the capacity " + std::to_string(capacity);
  if (!std::isfinite(r.offset)) return "the rate limiter's offset is not finite";
  return "";
}

std::vector<uint8_t> encode_schema(const Schema& schema) {
  std::vector<uint8_t> out(schema.size() * sizeof(FieldRecord));
  std::string names;
  for (size_t f = 0; f < schema.size(); ++f) {
    const Field& fd = schema[f];
    FieldRecord r{};
    r.dtype = static_cast<uint8_t>(fd.dtype);
    r.ndim = static_cast<uint8_t>(fd.shape.size());
    r.name_length = static_cast<uint16_t>(fd.name.size());
    r.name_offset = static_cast<uint32_t>(out.size() + names.size());
    for (size_t k = 0; k < fd.shape.size(); ++k) r.shape[k] = fd.shape[k];
    std::memcpy(out.data() + f * sizeof r, &r, sizeof r);
    names += fd.name;
  }
  out.insert(out.end(), names.begin(), names.end());
  return out;
}

// What is wrong with an extension's name (as the facade gave it or an archive holds it), or "".
std::string extension_name_problem(const std::string& name) {
  if (name.empty()) return "an extension has an empty name";
  if (name.size() > kMaxExtensionName) return "an extension name is longer than " + std::to_string(kMaxExtensionName) + " bytes";
  return "";
}

std::vector<uint8_t> encode_extension(const ArchiveExtension& x) {
  ExtensionRecord r{};
  r.name_length = static_cast<uint32_t>(x.name.size());
  r.data_length = x.data.size();
  std::vector<uint8_t> out(sizeof r + x.name.size() + x.data.size());
  std::memcpy(out.data(), &r, sizeof r);
  std::memcpy(out.data() + sizeof r, x.name.data(), x.name.size());
  if (!x.data.empty()) std::memcpy(out.data() + sizeof r + x.name.size(), x.data.data(), x.data.size());
  return out;
}

}  // namespace

RateLimiterRecord rate_limiter_record(const RateLimiter& limiter) {
  const RateLimiterConfig& c = limiter.config();
  const RateLimiterCounters k = limiter.counters();
  RateLimiterRecord r{};
  r.samples_per_insert = c.samples_per_insert;
  r.min_size = c.min_size;
  r.min_diff = c.min_diff;
  r.max_diff = c.max_diff;
  r.error_buffer = c.error_buffer;
  r.offset = k.offset;
  r.inserts = k.inserts;
  r.samples = k.samples;
  r.insert_waits = k.insert_waits;
  r.sample_waits = k.sample_waits;
  r.insert_wait_ns = k.insert_wait_ns;
  r.sample_wait_ns = k.sample_wait_ns;
  r.flags = limiter.enabled() ? 0u : uint32_t(kRateLimiterDisabled);
  return r;
}

RateLimiterConfig rate_limiter_config(const RateLimiterRecord& r) {
  RateLimiterConfig c;
  c.samples_per_insert = r.samples_per_insert;
  c.min_size = r.min_size;
  c.min_diff = r.min_diff;
  c.max_diff = r.max_diff;
  c.error_buffer = r.error_buffer;
  return c;
}

RateLimiterCounters rate_limiter_counters(const RateLimiterRecord& r) {
  RateLimiterCounters k;
  k.inserts = r.inserts;
  k.samples = r.samples;
  k.insert_waits = r.insert_waits;
  k.sample_waits = r.sample_waits;
  k.insert_wait_ns = r.insert_wait_ns;
  k.sample_wait_ns = r.sample_wait_ns;
  k.offset = r.offset;
  return k;
}

ArchivePlan plan_archive(const ReplayBuffer& b, const ArchiveMeta& meta) {
  const Schema& schema = b.schema();             // the user's: the Schema section
  const Schema& stored = b.storage().schema();   // the storage's: the FieldData sections
  for (const Field& f : schema.fields())  // the schema's own limit; checked again for old callers
    if (f.name.size() > kMaxNameBytes) fail(ErrorKind::Archive, "field name too long for an archive: '" + f.name.substr(0, 40) + "...'");
  ArchivePlan plan;
  plan.schema_bytes = encode_schema(schema);
  if (meta.has_epoch) {
    EpochRecord r = meta.epoch;
    r.key_count = meta.epoch_keys.size();
    const std::string problem = epoch_record_problem(r, b.capacity());
    if (!problem.empty()) fail(ErrorKind::Archive, "cannot archive this epoch state: " + problem);
    plan.epoch_bytes.resize(sizeof r + 8 * meta.epoch_keys.size());
    std::memcpy(plan.epoch_bytes.data(), &r, sizeof r);
    if (!meta.epoch_keys.empty()) std::memcpy(plan.epoch_bytes.data() + sizeof r, meta.epoch_keys.data(), 8 * meta.epoch_keys.size());
  }
  if (meta.has_rate_limiter) {
    const std::string problem = rate_limiter_problem(meta.rate_limiter, b.capacity());
    if (!problem.empty()) fail(ErrorKind::Archive, "cannot archive this rate limiter: " + problem);
    plan.rate_limiter_bytes.resize(sizeof(RateLimiterRecord));
    std::memcpy(plan.rate_limiter_bytes.data(), &meta.rate_limiter, sizeof(RateLimiterRecord));
  }
  if (const EpisodeIndex* index = b.episodes()) {
    const EpisodeOptions& o = *b.episode_options();
    EpisodesRecord r{};
    r.terminated = static_cast<uint32_t>(o.terminated);
    r.truncated = static_cast<uint32_t>(o.truncated);
    if (o.nstep) {
      r.nstep_n = o.nstep->n;
      r.nstep_gamma = o.nstep->gamma;
      r.reward = static_cast<uint32_t>(o.reward);
      r.next_obs = static_cast<uint32_t>(o.next_obs);
    }
    plan.episodes_bytes = index->encode(b.length(), r);
  }
  if (const Derived* d = b.derived()) {
    const DerivedOptions& o = d->options();
    const std::vector<uint8_t> state = d->save();
    DerivedRecord r{};
    r.obs = static_cast<uint32_t>(o.obs);
    r.next = static_cast<uint32_t>(o.next);
    r.frames = o.frames;
    r.flags = o.validate_next ? uint32_t(kDerivedValidateNext) : 0u;
    r.state_bytes = state.size();
    plan.derived_bytes.resize(sizeof r + state.size());
    std::memcpy(plan.derived_bytes.data(), &r, sizeof r);
    std::memcpy(plan.derived_bytes.data() + sizeof r, state.data(), state.size());
  }
  if (meta.extensions.size() > kMaxExtensions)
    fail(ErrorKind::Archive, "an archive holds at most " + std::to_string(kMaxExtensions) + " extensions");
  std::set<std::string> names;
  for (const ArchiveExtension& x : meta.extensions) {
    const std::string problem = extension_name_problem(x.name);
    if (!problem.empty()) fail(ErrorKind::Archive, "cannot archive this extension: " + problem);
    if (!names.insert(x.name).second) fail(ErrorKind::Archive, "cannot archive two extensions named '" + x.name + "'");
    if (x.data.size() > kMaxExtensionBytes) fail(ErrorKind::Archive, "extension '" + x.name + "' is larger than an archive holds");
    plan.extension_bytes.push_back(encode_extension(x));
  }
  const uint64_t len = b.length(), cap = b.capacity();
  std::vector<SectionEntry>& s = plan.sections;
  auto add = [&s](SectionKind k, uint32_t index, uint64_t length) {
    SectionEntry e{};
    e.kind = static_cast<uint32_t>(k);
    e.index = index;
    e.length = length;
    s.push_back(e);
  };
  add(SectionKind::Schema, 0, plan.schema_bytes.size());
  for (size_t f = 0; f < stored.size(); ++f) add(SectionKind::FieldData, uint32_t(f), len * stored[f].row_bytes);
  add(SectionKind::Keys, 0, 8 * len);
  add(SectionKind::Writes, 0, 8 * cap);
  if (b.writer().tracks_order()) add(SectionKind::Inserted, 0, 8 * cap);
  if (b.prioritized()) add(SectionKind::Priorities, 0, 8 * len);
  if (meta.has_epoch) add(SectionKind::Epoch, 0, plan.epoch_bytes.size());
  if (meta.has_rate_limiter) add(SectionKind::RateLimiter, 0, plan.rate_limiter_bytes.size());
  if (b.episodes()) add(SectionKind::Episodes, 0, plan.episodes_bytes.size());
  if (b.derived()) add(SectionKind::Derived, 0, plan.derived_bytes.size());
  for (size_t i = 0; i < plan.extension_bytes.size(); ++i) add(SectionKind::Extension, uint32_t(i), plan.extension_bytes[i].size());

  plan.table_end = sizeof(ArchiveHeader) + s.size() * sizeof(SectionEntry);
  uint64_t at = align64(plan.table_end);
  for (SectionEntry& e : s) {
    e.offset = at;
    at = align64(at + e.length);
  }
  ArchiveHeader& h = plan.header;
  std::memcpy(h.magic, kMagic, 8);
  h.version = kArchiveVersion;
  h.flags = (b.prioritized() ? uint32_t(kArchivePrioritized) : 0u) |
            (b.eviction() == Eviction::LowestPriority ? uint32_t(kArchiveLowestPriority) : 0u) |
            (meta.has_epoch ? uint32_t(kArchiveHasEpoch) : 0u);
  h.file_bytes = at;
  h.header_bytes = sizeof(ArchiveHeader);
  h.section_count = static_cast<uint32_t>(s.size());
  h.field_count = static_cast<uint32_t>(schema.size());
  h.capacity = cap;
  h.length = len;
  h.cursor = b.writer().cursor();
  h.inserted_count = b.writer().inserted_count();
  if (const PrioritizedSampler* per = b.prioritized_sampler()) {  // uniform: all 0
    h.alpha = per->alpha();
    h.beta_start = per->schedule().start;
    h.beta_end = per->schedule().end;
    h.epsilon = per->epsilon();
    h.max_priority = per->max_priority();
    h.beta_frames = per->schedule().frames;
    h.sample_calls = per->draws();
  }
  std::memcpy(h.rng_state, meta.rng_state, sizeof h.rng_state);
  h.seed = meta.seed;
  return plan;
}

uint32_t header_crc(const uint8_t* head, uint64_t table_end) {
  constexpr size_t at = offsetof(ArchiveHeader, header_crc);
  const uint32_t zero = 0;
  uint32_t crc = crc32(head, at);
  crc = crc32(&zero, sizeof zero, crc);
  return crc32(head + at + sizeof zero, table_end - at - sizeof zero, crc);
}

uint64_t section_item_bytes(const Schema& stored, const SectionEntry& s) {
  switch (static_cast<SectionKind>(s.kind)) {
    case SectionKind::FieldData: return s.index < stored.size() ? stored[s.index].row_bytes : 1;
    case SectionKind::Keys:
    case SectionKind::Writes:
    case SectionKind::Inserted:
    case SectionKind::Priorities: return 8;
    default: return 1;
  }
}

void export_items(const ReplayBuffer& b, const SectionEntry& s, uint64_t first, uint64_t count, uint8_t* dst) {
  const Writer& w = b.writer();
  const SectionKind kind = static_cast<SectionKind>(s.kind);
  const bool per_slot = kind == SectionKind::Writes || kind == SectionKind::Inserted;
  const uint64_t items = per_slot ? b.capacity() : b.length();
  if (first > items || count > items - first) fail(ErrorKind::Archive, "export beyond the end of a section");
  if (count == 0) return;
  switch (kind) {
    case SectionKind::FieldData: {
      if (s.index >= b.storage().schema().size()) fail(ErrorKind::Archive, "no such field");
      std::vector<uint64_t> slots(count);
      for (uint64_t i = 0; i < count; ++i) slots[i] = w.slot_at(first + i);
      b.storage().gather(s.index, slots.data(), count, dst);
      return;
    }
    case SectionKind::Keys:
      for (uint64_t i = 0; i < count; ++i) {
        const uint64_t k = w.key(w.slot_at(first + i));
        std::memcpy(dst + 8 * i, &k, 8);
      }
      return;
    case SectionKind::Priorities:
      for (uint64_t i = 0; i < count; ++i) {
        const double p = b.priority_of_slot(w.slot_at(first + i));
        std::memcpy(dst + 8 * i, &p, 8);
      }
      return;
    case SectionKind::Writes:
      std::memcpy(dst, w.writes().data() + first, 8 * count);
      return;
    case SectionKind::Inserted:
      if (!w.tracks_order()) fail(ErrorKind::Archive, "this buffer keeps no insertion order");
      std::memcpy(dst, w.inserted().data() + first, 8 * count);
      return;
    default:
      fail(ErrorKind::Archive, std::string("the core does not export ") + kind_name(s.kind) + " sections");
  }
}

ArchiveExporter::Frozen::Frozen(const ReplayBuffer& buffer) : b(buffer) { b.freeze(); }
ArchiveExporter::Frozen::~Frozen() { b.thaw(); }

ArchiveExporter::ArchiveExporter(const ReplayBuffer& buffer, const ArchiveMeta& meta)
    : buffer_(buffer), frozen_(buffer), plan_(plan_archive(buffer, meta)), crcs_(plan_.sections.size(), 0) {}

uint64_t ArchiveExporter::write_bytes() const {
  uint64_t n = plan_.table_end;
  for (const SectionEntry& e : plan_.sections) n += e.length;
  return n;
}

uint64_t ArchiveExporter::next(uint8_t* dst, uint64_t cap, uint64_t* position) {
  while (section_ < plan_.sections.size() && at_ == plan_.sections[section_].length) {
    ++section_;  // sections of no bytes (their CRC stays 0) and finished ones
    at_ = 0;
  }
  if (done() || cap == 0) return 0;
  const SectionEntry& s = plan_.sections[section_];
  const uint64_t left = s.length - at_;
  uint64_t n;
  // The small sections the core encoded when it planned the archive.
  const std::vector<uint8_t>* small = s.kind == uint32_t(SectionKind::Schema)        ? &plan_.schema_bytes
                                      : s.kind == uint32_t(SectionKind::Epoch)       ? &plan_.epoch_bytes
                                      : s.kind == uint32_t(SectionKind::RateLimiter) ? &plan_.rate_limiter_bytes
                                      : s.kind == uint32_t(SectionKind::Episodes)    ? &plan_.episodes_bytes
                                      : s.kind == uint32_t(SectionKind::Derived)     ? &plan_.derived_bytes
                                      : s.kind == uint32_t(SectionKind::Extension)   ? &plan_.extension_bytes[s.index]
                                                                                     : nullptr;
  if (small) {
    n = std::min(cap, left);
    const std::vector<uint8_t>& bytes = *small;
    std::memcpy(dst, bytes.data() + at_, n);
  } else {
    const uint64_t item = section_item_bytes(buffer_.storage().schema(), s);
    if (at_ % item == 0 && cap >= item) {  // whole items, straight into dst
      n = std::min(left, cap / item * item);
      export_items(buffer_, s, at_ / item, n / item, dst);
    } else {  // an item larger than the chunk: through the scratch, piece by piece
      item_.resize(item);
      export_items(buffer_, s, at_ / item, 1, item_.data());
      const uint64_t off = at_ % item;
      n = std::min(cap, item - off);
      std::memcpy(dst, item_.data() + off, n);
    }
  }
  crcs_[section_] = crc32(dst, n, crcs_[section_]);
  *position = s.offset + at_;
  at_ += n;
  return n;
}

std::vector<uint8_t> ArchiveExporter::head() const {
  if (!done()) fail(ErrorKind::State, "the archive's header is known only once every section is exported");
  std::vector<uint8_t> out(plan_.table_end);
  std::memcpy(out.data(), &plan_.header, sizeof plan_.header);
  for (size_t i = 0; i < plan_.sections.size(); ++i) {
    SectionEntry e = plan_.sections[i];
    e.crc = crcs_[i];
    std::memcpy(out.data() + sizeof(ArchiveHeader) + i * sizeof e, &e, sizeof e);
  }
  const uint32_t crc = header_crc(out.data(), plan_.table_end);
  std::memcpy(out.data() + offsetof(ArchiveHeader, header_crc), &crc, sizeof crc);
  return out;
}

void ArchiveExporter::check_head(const uint8_t* bytes, uint64_t n) const {
  const std::vector<uint8_t> expected = head();
  uint32_t stored = 0;
  if (n == expected.size()) std::memcpy(&stored, bytes + offsetof(ArchiveHeader, header_crc), sizeof stored);
  if (n != expected.size() || header_crc(bytes, n) != stored || std::memcmp(bytes, expected.data(), n) != 0)
    fail(ErrorKind::Archive, "the archive file does not read back as written (its header or section checksums differ)");
}

std::vector<uint8_t> encode_archive(const ReplayBuffer& b, const ArchiveMeta& meta) {
  ArchiveExporter x(b, meta);
  std::vector<uint8_t> out(x.file_bytes(), 0), chunk(1 << 16);
  uint64_t position = 0;
  for (uint64_t n; (n = x.next(chunk.data(), chunk.size(), &position)) != 0;)
    std::memcpy(out.data() + position, chunk.data(), n);
  const std::vector<uint8_t> head = x.head();
  std::memcpy(out.data(), head.data(), head.size());
  return out;
}

std::unique_ptr<ReplayBuffer> make_buffer_for(const ArchiveView& v, std::unique_ptr<Storage> storage) {
  std::optional<PrioritizedOptions> per;
  if (v.prioritized()) {
    PrioritizedOptions o;
    o.alpha = v.header.alpha;
    o.eviction = v.lowest_priority() ? Eviction::LowestPriority : Eviction::Fifo;
    o.epsilon = v.header.epsilon;
    o.beta = BetaSchedule{v.header.beta_start, v.header.beta_end, v.header.beta_frames};
    per = o;
  }
  std::optional<EpisodeOptions> episodes;
  if (v.episodes >= 0) {
    const EpisodesRecord r = v.episodes_record();
    EpisodeOptions o;
    o.terminated = r.terminated;
    o.truncated = r.truncated;
    if (r.nstep_n > 0) {
      o.nstep = NStep{r.nstep_n, r.nstep_gamma};
      o.reward = r.reward;
      o.next_obs = r.next_obs;
    }
    episodes = o;
  }
  std::optional<DerivedOptions> derived;
  if (v.derived >= 0) {
    const DerivedRecord r = v.derived_record();
    DerivedOptions o;
    o.user = v.schema;
    o.obs = r.obs;
    o.next = r.next;
    o.frames = r.frames;
    o.validate_next = r.flags & kDerivedValidateNext;
    derived = std::move(o);
  }
  if (!storage) storage = std::make_unique<MemoryStorage>(v.stored, v.header.capacity);
  try {
    return std::make_unique<ReplayBuffer>(std::move(storage), per, episodes, std::move(derived));
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::Archive) throw;
    bad(std::string("its options do not make a buffer: ") + e.what());
  }
}

std::string ArchiveView::extension_name(size_t i) const {
  ExtensionRecord r;
  std::memcpy(&r, at(extensions[i]), sizeof r);
  return std::string(reinterpret_cast<const char*>(at(extensions[i]) + sizeof r), r.name_length);
}

const uint8_t* ArchiveView::extension_data(size_t i, uint64_t* length) const {
  ExtensionRecord r;
  std::memcpy(&r, at(extensions[i]), sizeof r);
  *length = r.data_length;
  return at(extensions[i]) + sizeof r + r.name_length;
}

EpochRecord ArchiveView::epoch_record() const {
  EpochRecord r{};
  if (epoch >= 0) std::memcpy(&r, at(epoch), sizeof r);
  return r;
}

EpisodesRecord ArchiveView::episodes_record() const {
  EpisodesRecord r{};
  if (episodes >= 0) std::memcpy(&r, at(episodes), sizeof r);
  return r;
}

DerivedRecord ArchiveView::derived_record() const {
  DerivedRecord r{};
  if (derived >= 0) std::memcpy(&r, at(derived), sizeof r);
  return r;
}

RateLimiterRecord ArchiveView::rate_limiter_record() const {
  RateLimiterRecord r{};
  if (rate_limiter >= 0) std::memcpy(&r, at(rate_limiter), sizeof r);
  return r;
}

void check_rate_limiter_fits(const ArchiveView& v, const RateLimiter* limiter) {
  if (v.rate_limiter < 0 && !limiter) return;
  if (v.rate_limiter < 0) fail(ErrorKind::Archive, "the archive holds a buffer without a rate limiter; this buffer has one");
  if (!limiter) fail(ErrorKind::Archive, "the archive holds a buffer with a rate limiter; this buffer has none");
  const RateLimiterConfig archived = rate_limiter_config(v.rate_limiter_record());
  if (std::memcmp(&archived, &limiter->config(), sizeof archived) != 0)
    fail(ErrorKind::Archive, "the archive's rate limiter options differ from the buffer's");
}

void restore_rate_limiter(const ArchiveView& v, RateLimiter* limiter) {
  check_rate_limiter_fits(v, limiter);
  if (!limiter) return;
  const RateLimiterRecord r = v.rate_limiter_record();
  limiter->restore(rate_limiter_counters(r));  // parse_archive checked the offset
  limiter->set_enabled(!(r.flags & kRateLimiterDisabled));
}

ArchiveView parse_archive(const uint8_t* data, uint64_t size) {
  ArchiveView v;
  v.base = data;
  v.size = size;
  if (size < sizeof(ArchiveHeader)) bad("the file is " + std::to_string(size) + " bytes, shorter than a header");
  std::memcpy(&v.header, data, sizeof v.header);
  const ArchiveHeader& h = v.header;
  if (std::memcmp(h.magic, kMagic, 8) != 0) bad("wrong magic (not a replaykit archive)");
  if (h.version != kArchiveVersion)
    fail(ErrorKind::Archive, "unsupported archive format version " + std::to_string(h.version) + " (this replaykit reads " +
                                 std::to_string(kArchiveVersion) + ")");
  if (h.header_bytes != sizeof(ArchiveHeader)) bad("header size " + std::to_string(h.header_bytes));
  if (h.file_bytes != size)
    bad("the header says " + std::to_string(h.file_bytes) + " bytes but the file has " + std::to_string(size) +
        (size < h.file_bytes ? " (truncated)" : ""));
  if (h.flags & ~uint32_t(kArchivePrioritized | kArchiveLowestPriority | kArchiveHasEpoch)) bad("unknown flags");
  if ((h.flags & kArchiveLowestPriority) && !(h.flags & kArchivePrioritized)) bad("lowest-priority eviction without priorities");
  if (h.reserved0 != 0) bad("reserved header bytes are not zero");
  if (h.section_count == 0 || h.section_count > kMaxSections) bad("section count " + std::to_string(h.section_count));
  if (h.field_count == 0 || h.field_count > kMaxArchiveFields) bad("field count " + std::to_string(h.field_count));
  if (h.capacity == 0 || h.capacity > (uint64_t(1) << 40)) bad("capacity " + std::to_string(h.capacity));
  if (h.length > h.capacity) bad("length " + std::to_string(h.length) + " exceeds capacity " + std::to_string(h.capacity));
  if (h.cursor >= h.capacity) bad("cursor " + std::to_string(h.cursor) + " outside the capacity");
  const uint64_t table_end = sizeof(ArchiveHeader) + uint64_t(h.section_count) * sizeof(SectionEntry);
  if (table_end > size) bad("the section table runs past the end of the file");

  v.sections.resize(h.section_count);
  std::memcpy(v.sections.data(), data + sizeof(ArchiveHeader), h.section_count * sizeof(SectionEntry));
  v.field_data.assign(h.field_count, -1);
  for (uint32_t i = 0; i < h.section_count; ++i) {
    const SectionEntry& e = v.sections[i];
    const std::string name = std::string(kind_name(e.kind)) + " section";
    if (e.offset % 64 != 0) bad(name + " is not 64-byte aligned");
    const bool indexed = e.kind == uint32_t(SectionKind::FieldData) || e.kind == uint32_t(SectionKind::Extension);
    if (e.reserved != 0 || (!indexed && e.index != 0))
      bad(name + " has stray bytes in its table entry");
    if (e.offset < table_end) bad(name + " overlaps the header");
    if (e.offset > size || e.length > size - e.offset) bad(name + " runs past the end of the file");
    int* slot = nullptr;
    switch (static_cast<SectionKind>(e.kind)) {
      case SectionKind::Schema: slot = &v.schema_section; break;
      case SectionKind::Keys: slot = &v.keys; break;
      case SectionKind::Writes: slot = &v.writes; break;
      case SectionKind::Inserted: slot = &v.inserted; break;
      case SectionKind::Priorities: slot = &v.priorities; break;
      case SectionKind::Epoch: slot = &v.epoch; break;
      case SectionKind::RateLimiter: slot = &v.rate_limiter; break;
      case SectionKind::Episodes: slot = &v.episodes; break;
      case SectionKind::Derived: slot = &v.derived; break;
      case SectionKind::FieldData:
        if (e.index >= h.field_count) bad("field data for field " + std::to_string(e.index) + " of " + std::to_string(h.field_count));
        slot = &v.field_data[e.index];
        break;
      case SectionKind::Extension:
        // Indexed 0, 1, ... in table order: the index says which, the name what.
        if (e.index != v.extensions.size()) bad("extension sections out of order");
        if (v.extensions.size() == kMaxExtensions) bad("more than " + std::to_string(kMaxExtensions) + " extensions");
        v.extensions.push_back(static_cast<int>(i));
        continue;
      default: bad("unknown section kind " + std::to_string(e.kind));
    }
    if (*slot != -1) bad("two " + name + "s");
    *slot = static_cast<int>(i);
  }
  // No two sections overlap.
  std::vector<const SectionEntry*> by_offset;
  by_offset.reserve(v.sections.size());
  for (const SectionEntry& e : v.sections) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](auto a, auto b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i - 1]->offset + by_offset[i - 1]->length > by_offset[i]->offset)
      bad(std::string(kind_name(by_offset[i - 1]->kind)) + " and " + kind_name(by_offset[i]->kind) + " sections overlap");

  if (v.schema_section < 0) bad("no schema section");
  if (v.keys < 0 || v.writes < 0) bad("no keys or writes section");
  if (v.prioritized() != (v.priorities >= 0)) bad("priorities section and flags disagree");
  if (v.lowest_priority() != (v.inserted >= 0)) bad("insertion-order section and flags disagree");
  if (bool(h.flags & kArchiveHasEpoch) != (v.epoch >= 0)) bad("epoch section and flags disagree");

  // The schema.
  const SectionEntry& ss = v.sections[v.schema_section];
  if (ss.length < uint64_t(h.field_count) * sizeof(FieldRecord)) bad("the schema section is too short for its fields");
  std::vector<Field> fields;
  fields.reserve(h.field_count);
  for (uint32_t f = 0; f < h.field_count; ++f) {
    FieldRecord r;
    std::memcpy(&r, data + ss.offset + f * sizeof(FieldRecord), sizeof r);
    Dtype dtype;
    if (!dtype_from_code(r.dtype, &dtype)) bad("field " + std::to_string(f) + " has unknown dtype " + std::to_string(r.dtype));
    if (r.ndim > kMaxDims) bad("field " + std::to_string(f) + " has " + std::to_string(r.ndim) + " dimensions");
    if (r.name_length == 0 || r.name_offset > ss.length || r.name_length > ss.length - r.name_offset)
      bad("field " + std::to_string(f) + "'s name lies outside the schema section");
    std::string name(reinterpret_cast<const char*>(data + ss.offset + r.name_offset), r.name_length);
    try {
      fields.push_back(make_field(std::move(name), dtype, std::vector<uint64_t>(r.shape, r.shape + r.ndim)));
    } catch (const Error& e) {
      bad(std::string("schema: ") + e.what());
    }
  }
  try {
    v.schema = Schema(std::move(fields));
  } catch (const Error& e) {
    bad(std::string("schema: ") + e.what());
  }
  // The stored schema: the user schema, or (observations stored once) the one the Derived
  // record's options make of it, whose fields the FieldData sections hold.
  v.stored = v.schema;
  v.stored_of.resize(v.schema.size());
  for (size_t f = 0; f < v.schema.size(); ++f) v.stored_of[f] = f;
  if (v.derived >= 0) {
    const SectionEntry& ds = v.sections[v.derived];
    if (ds.length < sizeof(DerivedRecord)) bad("the derived fields section is too short");
    const DerivedRecord r = v.derived_record();
    if (r.flags & ~uint32_t(kDerivedValidateNext)) bad("unknown derived fields flags");
    if (r.reserved != 0) bad("reserved derived fields bytes are not zero");
    if (r.state_bytes != ds.length - sizeof(DerivedRecord)) bad("the derived fields section's size disagrees with its record");
    if (v.episodes < 0) bad("observations stored once without the episode index that says which item is next");
    DerivedOptions o;
    o.user = v.schema;
    o.obs = r.obs;
    o.next = r.next;
    o.frames = r.frames;
    try {
      v.stored = stored_schema(o);
    } catch (const Error& e) {
      bad(std::string("derived fields: ") + e.what());
    }
    for (size_t f = 0, s = 0; f < v.schema.size(); ++f) v.stored_of[f] = f == r.next ? kNoField : s++;
    // One FieldData section fewer than the user schema has fields: the next field has none.
    if (v.field_data.back() != -1) bad("field data for field " + std::to_string(h.field_count - 1) + " of " + std::to_string(v.stored.size()));
    v.field_data.pop_back();
  }

  // Sizes consistent with the schema and counts (all within the file, checked above).
  auto expect_length = [&](int section, uint64_t items, uint64_t item_bytes, const char* what) {
    if (item_bytes != 0 && items > UINT64_MAX / item_bytes) bad(std::string(what) + " size overflows");
    if (v.sections[section].length != items * item_bytes)
      bad(std::string(what) + " section is " + std::to_string(v.sections[section].length) + " bytes, expected " +
          std::to_string(items * item_bytes));
  };
  for (size_t f = 0; f < v.stored.size(); ++f) {
    if (v.field_data[f] < 0) bad("no data for field '" + v.stored[f].name + "'");
    expect_length(v.field_data[f], h.length, v.stored[f].row_bytes, ("field '" + v.stored[f].name + "'").c_str());
  }
  expect_length(v.keys, h.length, 8, "keys");
  expect_length(v.writes, h.capacity, 8, "writes");
  if (v.inserted >= 0) expect_length(v.inserted, h.capacity, 8, "insertion-order");
  if (v.priorities >= 0) expect_length(v.priorities, h.length, 8, "priorities");
  if (v.epoch >= 0) {
    const SectionEntry& es = v.sections[v.epoch];
    if (es.length < sizeof(EpochRecord)) bad("the epoch section is too short");
    const EpochRecord r = v.epoch_record();
    if (r.key_count > (es.length - sizeof(EpochRecord)) / 8 || es.length != sizeof(EpochRecord) + 8 * r.key_count)
      bad("the epoch section's key count disagrees with its size");
    const std::string problem = epoch_record_problem(r, h.capacity);
    if (!problem.empty()) bad(problem);
  }
  if (v.rate_limiter >= 0) {
    if (v.sections[v.rate_limiter].length != sizeof(RateLimiterRecord))
      bad("the rate limiter section is " + std::to_string(v.sections[v.rate_limiter].length) + " bytes, expected " +
          std::to_string(sizeof(RateLimiterRecord)));
    const std::string problem = rate_limiter_problem(v.rate_limiter_record(), h.capacity);
    if (!problem.empty()) bad(problem);
  }
  if (v.episodes >= 0) {
    const SectionEntry& es = v.sections[v.episodes];
    if (es.length < sizeof(EpisodesRecord)) bad("the episode index section is too short");
    const EpisodesRecord r = v.episodes_record();
    if (r.items != h.length) bad("the episode index holds " + std::to_string(r.items) + " items, the archive " + std::to_string(h.length));
    if (r.streams > kMaxEnvStreams) bad("the episode index has more env streams than an index keeps");
    if (es.length != episodes_section_bytes(r.items, r.streams)) bad("the episode index section's size disagrees with its counts");
    if (r.nstep_n > 1024 || !(r.nstep_gamma >= 0 && r.nstep_gamma <= 1) || (r.nstep_n == 0 && r.nstep_gamma != 0))
      bad("the episode index's n-step option is out of range");
    // The fields it names are the schema's (their kinds are the buffer constructor's to check:
    // make_buffer_for).
    if (r.terminated >= v.schema.size() || r.truncated >= v.schema.size() || r.reward >= v.schema.size() ||
        r.next_obs >= v.schema.size() || (r.nstep_n == 0 && (r.reward != 0 || r.next_obs != 0)))
      bad("the episode index names fields the schema does not have");
  }
  std::set<std::string> extension_names;
  for (size_t i = 0; i < v.extensions.size(); ++i) {
    const SectionEntry& es = v.sections[v.extensions[i]];
    if (es.length < sizeof(ExtensionRecord)) bad("an extension section is too short");
    ExtensionRecord r;
    std::memcpy(&r, v.at(v.extensions[i]), sizeof r);
    if (r.reserved != 0) bad("reserved extension bytes are not zero");
    if (r.name_length == 0 || r.name_length > kMaxExtensionName || r.data_length > kMaxExtensionBytes ||
        es.length != sizeof r + r.name_length + r.data_length)
      bad("an extension section's name and data lengths disagree with its size");
    if (!extension_names.insert(v.extension_name(i)).second) bad("two extensions named '" + v.extension_name(i) + "'");
  }
  if (v.prioritized()) {
    if (!(std::isfinite(h.alpha) && h.alpha >= 0)) bad("alpha");
    if (!(std::isfinite(h.epsilon) && h.epsilon > 0)) bad("epsilon");
    if (!(std::isfinite(h.beta_start) && h.beta_start >= 0 && std::isfinite(h.beta_end) && h.beta_end >= 0)) bad("beta");
    if (h.beta_frames == 0 || h.beta_frames > kMaxExact) bad("the beta schedule's frames " + std::to_string(h.beta_frames));
    if (h.sample_calls > kMaxExact) bad("the beta schedule's progress " + std::to_string(h.sample_calls));
    if (!(std::isfinite(h.max_priority) && h.max_priority > 0)) bad("max priority");
  }
  // The facade's state: a seed it accepts (a safe integer) and a generator that is not stuck.
  if (!(std::isfinite(h.seed) && std::floor(h.seed) == h.seed && std::fabs(h.seed) < double(kMaxExact)))
    bad("the seed is not a safe integer");
  if (h.rng_state[0] == 0 && h.rng_state[1] == 0 && h.rng_state[2] == 0 && h.rng_state[3] == 0)
    bad("the random generator's state is all zero (it would draw the same item forever)");
  // Last, so that a structural fault is reported as such even when the checksum also fails.
  uint32_t stored;
  std::memcpy(&stored, data + offsetof(ArchiveHeader, header_crc), sizeof stored);
  if (header_crc(data, table_end) != stored) fail(ErrorKind::Archive, "the archive is corrupt: the header checksum does not match");
  return v;
}

std::string section_label(const ArchiveView& v, size_t i) {
  const SectionEntry& e = v.sections[i];
  if (e.kind == uint32_t(SectionKind::FieldData) && e.index < v.stored.size()) return "field '" + v.stored[e.index].name + "'";
  if (e.kind == uint32_t(SectionKind::Extension))
    for (size_t x = 0; x < v.extensions.size(); ++x)
      if (v.extensions[x] == int(i)) return "extension '" + v.extension_name(x) + "'";
  return kind_name(e.kind);
}

bool ChecksumVerifier::step(const ArchiveView& v, uint64_t budget) {
  while (section_ < v.sections.size()) {
    const SectionEntry& e = v.sections[section_];
    const uint64_t n = std::min(budget, e.length - at_);
    crc_ = crc32(v.base + e.offset + at_, n, crc_);
    at_ += n;
    verified_ += n;
    budget -= n;
    if (at_ < e.length) return false;  // the budget is spent
    if (crc_ != e.crc) {
      const bool field = e.kind == uint32_t(SectionKind::FieldData);
      fail(ErrorKind::Archive, std::string("the archive is corrupt: the checksum of its ") + kind_name(e.kind) + " section" +
                                   (field ? " (" + section_label(v, section_) + ")" : "") + " does not match");
    }
    ++section_;
    at_ = 0;
    crc_ = 0;
    if (budget == 0) return section_ == v.sections.size();
  }
  return true;
}

std::vector<bool> check_sections(const ArchiveView& v) {
  std::vector<bool> ok(v.sections.size());
  for (size_t i = 0; i < v.sections.size(); ++i) {
    const SectionEntry& e = v.sections[i];
    ok[i] = crc32(v.base + e.offset, e.length) == e.crc;
  }
  return ok;
}

// ---- restore ----

void ReplayBuffer::restore_state(const ArchiveView& v) {
  const ArchiveHeader& h = v.header;
  if (bool(derived_) != (v.derived >= 0))
    fail(ErrorKind::Archive, derived_ ? "the archive holds a buffer that stores every observation; this buffer stores them once (next, frameStack)"
                                      : "the archive holds a buffer that stores observations once (next, frameStack); this buffer does not");
  if (derived_) {
    const DerivedRecord r = v.derived_record();
    const DerivedOptions& o = derived_->options();
    if (r.obs != o.obs || r.next != o.next || r.frames != o.frames || bool(r.flags & kDerivedValidateNext) != o.validate_next)
      fail(ErrorKind::Archive, "the archive's derived-field options (next, frameStack, validateNext) differ from the buffer's");
  }
  if (bool(episodes_) != (v.episodes >= 0))
    fail(ErrorKind::Archive, episodes_ ? "the archive holds a buffer that keeps no episodes; this buffer keeps them (nStep)"
                                       : "the archive holds a buffer that keeps episodes (nStep); this buffer does not");
  if (episodes_) {
    const EpisodesRecord r = v.episodes_record();
    const EpisodeOptions& o = *episode_options_;
    const bool same_fields = r.terminated == o.terminated && r.truncated == o.truncated;
    const bool same_nstep = o.nstep ? (r.nstep_n == o.nstep->n && r.nstep_gamma == o.nstep->gamma && r.reward == o.reward &&
                                       r.next_obs == o.next_obs)
                                    : r.nstep_n == 0;
    if (!same_fields || !same_nstep) fail(ErrorKind::Archive, "the archive's episode options (nStep) differ from the buffer's");
  }
  if (length() != 0) fail(ErrorKind::State, "restore needs an empty buffer");
  storage_->check_intact();
  if (h.capacity != capacity()) fail(ErrorKind::Archive, "the archive's capacity differs from the buffer's");
  if (v.prioritized() != prioritized() || v.lowest_priority() != (eviction_ == Eviction::LowestPriority))
    fail(ErrorKind::Archive, "the archive's kind of buffer differs from this one");
  const Schema& mine = schema();
  if (v.schema.size() != mine.size()) fail(ErrorKind::Archive, "the archive's schema differs from the buffer's");
  for (size_t f = 0; f < mine.size(); ++f)
    if (v.schema[f].name != mine[f].name || v.schema[f].dtype != mine[f].dtype || v.schema[f].shape != mine[f].shape)
      fail(ErrorKind::Archive, "the archive's field '" + v.schema[f].name + "' differs from the buffer's");
  if (per_) {
    const BetaSchedule& beta = per_->schedule();
    if (h.alpha != per_->alpha() || h.epsilon != per_->epsilon() || h.beta_start != beta.start ||
        h.beta_end != beta.end || h.beta_frames != beta.frames)
      fail(ErrorKind::Archive, "the archive's prioritized options differ from the buffer's");
  }

  // Validate the writer state before touching anything.
  const uint64_t cap = h.capacity, len = h.length;
  auto u64 = [&v](int section, uint64_t i) {
    uint64_t x;
    std::memcpy(&x, v.at(section) + 8 * i, 8);
    return x;
  };
  std::vector<uint64_t> writes(cap), inserted;
  for (uint64_t s = 0; s < cap; ++s) {
    writes[s] = u64(v.writes, s);
    if (writes[s] > (uint64_t(1) << 53) / cap) bad("a slot's write count is absurd");
    if (s < len && writes[s] == 0) bad("a stored item's slot was never written");
  }
  if (v.inserted >= 0) {
    inserted.resize(cap);
    for (uint64_t s = 0; s < cap; ++s) inserted[s] = u64(v.inserted, s);
    std::vector<uint64_t> live(inserted.begin(), inserted.begin() + len);
    std::sort(live.begin(), live.end());
    for (uint64_t i = 0; i < len; ++i)
      if (live[i] >= h.inserted_count || (i && live[i] == live[i - 1])) bad("inconsistent insertion order");
  }
  if (len < cap && h.cursor != len) bad("the cursor of a buffer that is not full must equal its length");
  Writer probe(cap, v.inserted >= 0);
  probe.restore(len, h.cursor, writes.data(), inserted.empty() ? nullptr : inserted.data(), h.inserted_count);
  std::vector<uint64_t> slots(len);
  probe.slots_in_order(slots.data());
  for (uint64_t p = 0; p < len; ++p)
    if (u64(v.keys, p) != probe.key(slots[p])) bad("the key of item " + std::to_string(p) + " disagrees with its slot");
  if (v.epoch >= 0) {
    // The keys of an epoch in progress were handed out by this buffer: live or since
    // overwritten (stale), never unknown. They are JS numbers as the facade holds them.
    const EpochRecord r = v.epoch_record();
    const uint8_t* keys = v.at(v.epoch) + sizeof(EpochRecord);
    for (uint64_t i = 0; i < r.key_count; ++i) {
      double k;
      std::memcpy(&k, keys + 8 * i, 8);
      uint64_t slot;
      if (!(k >= 0 && k < double(uint64_t(1) << 53) && std::floor(k) == k) ||
          probe.resolve(static_cast<uint64_t>(k), &slot) == KeyState::Unknown)
        bad("epoch key " + std::to_string(i) + " names no item this buffer has held");
    }
  }
  std::vector<double> priorities;
  if (v.priorities >= 0) {
    priorities.resize(len);
    if (len) std::memcpy(priorities.data(), v.at(v.priorities), 8 * len);
    for (double p : priorities) {
      if (!(std::isfinite(p) && p > 0)) bad("a priority is not a finite number > 0");
      const double mass = det_pow(p, h.alpha);
      if (!(mass > 0 && std::isfinite(mass))) bad("a priority raised to alpha is outside the range of a double");
      if (p > h.max_priority) bad("a priority exceeds the maximum priority");
    }
  }

  if (v.prioritized()) {
    const double mass = det_pow(h.max_priority, h.alpha);
    if (!(mass > 0 && std::isfinite(mass))) bad("the maximum priority raised to alpha is outside the range of a double");
  }
  if (episodes_) {
    // The index is checked against the stored flags of each slot (the field data are in
    // position order), then taken whole: the last check, so that it changes nothing unless
    // everything else holds.
    const EpisodeOptions& o = *episode_options_;
    std::vector<uint8_t> terminated(len), truncated(len);
    const uint8_t* term = v.at(v.field_data[v.stored_of[o.terminated]]);
    const uint8_t* trunc = v.at(v.field_data[v.stored_of[o.truncated]]);
    for (uint64_t p = 0; p < len; ++p) {
      terminated[slots[p]] = term[p];
      truncated[slots[p]] = trunc[p];
    }
    const SectionEntry& es = v.sections[v.episodes];
    if (!derived_) {
      episodes_->restore(v.at(v.episodes), es.length, len, terminated.data(), truncated.data());
    } else {
      // Observations stored once: the frame stores are read through the index, so both are
      // restored into fresh objects and checked together (every stored item's frames resolve,
      // every count is what the items give), then swapped in: nothing changes unless all holds.
      auto index = std::make_unique<EpisodeIndex>(cap);
      index->restore(v.at(v.episodes), es.length, len, terminated.data(), truncated.data());
      auto derived = std::make_unique<Derived>(derived_->options(), *index, *storage_);
      derived->restore(v.derived_state(), v.derived_record().state_bytes);
      derived->check_restored();
      derived_ = std::move(derived);  // before the index the old one reads goes
      episodes_ = std::move(index);
    }
    if (nstep_) {  // n-step records follow from the index and the rewards (nstep.h): rebuilt, not stored
      std::vector<double> rewards(len);
      const uint8_t* col = v.at(v.field_data[v.stored_of[o.reward]]);
      const bool f32 = schema_[o.reward].dtype == Dtype::Float32;
      for (uint64_t p = 0; p < len; ++p) {
        if (f32) {
          float x;
          std::memcpy(&x, col + 4 * p, 4);
          rewards[slots[p]] = x;
        } else {
          std::memcpy(&rewards[slots[p]], col + 8 * p, 8);
        }
      }
      nstep_->rebuild(*episodes_, len, rewards.data());
    }
  }

  // Apply. From here on nothing can fail for want of validity.
  writer_.restore(len, h.cursor, writes.data(), inserted.empty() ? nullptr : inserted.data(), h.inserted_count);
  const Schema& stored = storage_->schema();  // the FieldData sections' fields
  std::vector<const void*> cols(stored.size());
  for (size_t f = 0; f < stored.size(); ++f) cols[f] = v.at(v.field_data[f]);
  for (uint64_t p = 0; p < len;) {  // runs of consecutive slots, oldest first
    uint64_t run = 1;
    while (p + run < len && slots[p + run] == slots[p] + run) ++run;
    storage_->write(slots[p], run, cols.data(), p);
    p += run;
  }
  if (per_) {
    for (uint64_t p = 0; p < len; ++p) per_->set_priority(slots[p], priorities[p]);
    per_->set_max_priority(h.max_priority);
    per_->set_draws(h.sample_calls);
    if (!std::isfinite(per_->total())) {  // known only once summed
      clear_state();
      if (episodes_) {  // the archive's streams and frames go too: the buffer is as made
        auto index = std::make_unique<EpisodeIndex>(cap);
        if (derived_) derived_ = std::make_unique<Derived>(derived_->options(), *index, *storage_);
        episodes_ = std::move(index);
      }
      bad("the priorities' total overflows a double");
    }
  }
}

}  // namespace replaykit
