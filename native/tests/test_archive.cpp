#include <doctest/doctest.h>
#include <unistd.h>

#include <cstring>

#include "archive.h"
#include "crc32.h"
#include "helpers.h"

using namespace rk_test;

namespace {
// A facade's generator state is never all zero (parse_archive refuses one that is).
ArchiveMeta meta_of(bool epoch = false) {
  ArchiveMeta m;
  m.rng_state[0] = 0x12345;
  m.seed = 7;
  if (epoch) {  // an iterator set up but not yet begun
    m.has_epoch = true;
    m.epoch.n_epochs = 1;
    m.epoch.batch_size = 4;
    m.epoch.flags = kEpochIterator | kEpochShuffle;
  }
  return m;
}

std::vector<uint8_t> archive_bytes(const ReplayBuffer& b, const ArchiveMeta& meta = meta_of()) { return encode_archive(b, meta); }

std::unique_ptr<ReplayBuffer> fresh_like(const ArchiveView& v, std::unique_ptr<Storage> storage = nullptr) {
  return make_buffer_for(v, std::move(storage));
}

void fill(ReplayBuffer& b, uint64_t n, uint32_t seed) {
  std::mt19937 g(seed);
  double id = 0;
  for (uint64_t done = 0; done < n;) {
    const uint64_t k = std::min<uint64_t>(1 + g() % 7, n - done);
    Rows rows(id, k);
    std::vector<double> p(k);
    for (auto& x : p) x = 0.5 + double(g() % 100) / 10;
    b.push(rows.cols, k, b.prioritized() ? p.data() : nullptr);
    id += double(k);
    done += k;
  }
}
}  // namespace

TEST_CASE("an archive restores a buffer exactly: state, keys, priorities, and the next samples") {
  PrioritizedOptions fifo, lowest;
  fifo.alpha = 0.7;
  lowest.eviction = Eviction::LowestPriority;
  for (auto per : {std::optional<PrioritizedOptions>(), std::optional<PrioritizedOptions>(fifo),
                   std::optional<PrioritizedOptions>(lowest)}) {
    for (uint64_t n : {0ull, 5ull, 17ull, 40ull}) {
      auto b = make_buffer(17, per);
      fill(*b, n, uint32_t(n));
      if (per && n) {  // exercise updates too
        uint64_t k = b->writer().key(0);
        float d = 3.5f;
        b->update_priorities(&k, 1, &d);
      }
      const auto bytes = archive_bytes(*b);
      const ArchiveView v = parse_archive(bytes.data(), bytes.size());
      CHECK(v.header.length == b->length());
      auto again = fresh_like(v);
      again->restore(v);
      CHECK(state_of(*again) == state_of(*b));
      CHECK(again->max_priority() == b->max_priority());
      if (b->length()) {
        Batch x = sample_rounds(*b, std::min<uint64_t>(8, b->length()), 3, 5);
        Batch y = sample_rounds(*again, std::min<uint64_t>(8, b->length()), 3, 5);
        CHECK(x.keys == y.keys);
        CHECK(x.obs == y.obs);
        CHECK(x.weights == y.weights);
      }
      // Pushing after the restore continues exactly as the original would.
      Rows more(1000, 9);
      b->push(more.cols, 9, nullptr);
      again->push(more.cols, 9, nullptr);
      CHECK(state_of(*again) == state_of(*b));
    }
  }
}

TEST_CASE("field data is stored oldest first, viewable in place") {
  auto b = make_buffer(4);
  Rows rows(0, 6);  // ids 2..5 remain; slot order 4 5 2 3
  b->push(rows.cols, 6, nullptr);
  const auto bytes = archive_bytes(*b);
  const ArchiveView v = parse_archive(bytes.data(), bytes.size());
  const double* ids = reinterpret_cast<const double*>(v.at(v.field_data[0]));
  CHECK(ids[0] == 2);
  CHECK(ids[3] == 5);
  CHECK(uintptr_t(v.at(v.field_data[1])) % 64 == uintptr_t(bytes.data()) % 64);
}

TEST_CASE("an archive restores into tiered storage") {
  const std::string path = "/tmp/replaykit-test-archive-" + std::to_string(::getpid());
  auto b = make_buffer(20);
  fill(*b, 33, 3);
  const auto bytes = archive_bytes(*b);
  const ArchiveView v = parse_archive(bytes.data(), bytes.size());
  auto tiered = fresh_like(v, std::make_unique<TieredStorage>(v.schema, 20, 6, path));
  tiered->restore(v);
  CHECK(state_of(*tiered) == state_of(*b));
}

TEST_CASE("every truncation and every flipped header byte is an Archive error, never a crash") {
  PrioritizedOptions lowest;
  lowest.eviction = Eviction::LowestPriority;
  auto b = make_buffer(9, lowest);
  fill(*b, 12, 9);
  const ArchiveMeta meta = meta_of(true);
  const auto good = archive_bytes(*b, meta);
  for (uint64_t cut = 0; cut < good.size(); cut += (cut < 600 ? 1 : 37)) {
    try {
      parse_archive(good.data(), cut);
      FAIL("a truncated archive parsed");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::Archive);
    }
  }
  const ArchivePlan plan = plan_archive(*b, meta);
  // Bytes whose every flip must be caught by structure checks alone (the rest, such as
  // checksums, seeds or reserved bytes, are caught by checksums in the facade).
  auto structural = [&](uint64_t at) {
    if (at < offsetof(ArchiveHeader, cursor)) return true;  // magic .. length
    if (at < sizeof(ArchiveHeader)) return false;
    const uint64_t in_entry = (at - sizeof(ArchiveHeader)) % sizeof(SectionEntry);
    return in_entry < offsetof(SectionEntry, crc) || in_entry >= offsetof(SectionEntry, reserved);  // all but the crc
  };
  int missed = 0;
  for (uint64_t at = 0; at < plan.table_end; ++at) {
    for (uint8_t bit : {uint8_t(1), uint8_t(0x10), uint8_t(0x80)}) {
      auto bad = good;
      bad[at] ^= bit;
      bool rejected = false;
      try {
        const ArchiveView v = parse_archive(bad.data(), bad.size());
        auto again = fresh_like(v);
        again->restore(v);  // may succeed: some bytes (seed, betas, checksums) are free-form
      } catch (const Error& e) {
        CHECK((e.kind() == ErrorKind::Archive || e.kind() == ErrorKind::Range || e.kind() == ErrorKind::Shape));
        rejected = true;
      }
      if (structural(at) && !rejected) {
        ++missed;
        MESSAGE("a flip of bit " << int(bit) << " at byte " << at << " was not caught");
      }
    }
  }
  CHECK(missed == 0);
}

TEST_CASE("lying headers are refused without large allocations") {
  auto b = make_buffer(8);
  fill(*b, 5, 1);
  auto bytes = archive_bytes(*b);
  auto with = [&](auto&& edit) {
    auto copy = bytes;
    ArchiveHeader h;
    std::memcpy(&h, copy.data(), sizeof h);
    edit(h);
    std::memcpy(copy.data(), &h, sizeof h);
    return copy;
  };
  auto rejects = [](const std::vector<uint8_t>& a) {
    try {
      parse_archive(a.data(), a.size());
      return false;
    } catch (const Error& e) {
      return e.kind() == ErrorKind::Archive;
    }
  };
  CHECK(rejects(with([](ArchiveHeader& h) { h.capacity = uint64_t(1) << 39; })));
  CHECK(rejects(with([](ArchiveHeader& h) { h.length = 1000000000; })));
  CHECK(rejects(with([](ArchiveHeader& h) { h.section_count = 4000000000u; })));
  CHECK(rejects(with([](ArchiveHeader& h) { h.field_count = 100000; })));
  CHECK(rejects(with([](ArchiveHeader& h) { h.version = 2; })));
  CHECK(rejects(with([](ArchiveHeader& h) { h.magic[0] = 'X'; })));
  CHECK(rejects(with([](ArchiveHeader& h) { h.file_bytes += 64; })));
  CHECK(rejects(with([](ArchiveHeader& h) { h.flags |= 1u << 9; })));
  // a section that claims to run past the end, or to overlap another
  auto moved = bytes;
  SectionEntry e;
  std::memcpy(&e, moved.data() + sizeof(ArchiveHeader) + sizeof(SectionEntry), sizeof e);
  e.offset = moved.size() - 64;
  std::memcpy(moved.data() + sizeof(ArchiveHeader) + sizeof(SectionEntry), &e, sizeof e);
  CHECK(rejects(moved));
  std::vector<uint8_t> junk(4096, 0xAB);
  CHECK(rejects(junk));
  CHECK(rejects(std::vector<uint8_t>{}));
}

// ---- checksums, the exporter, crafted archives (issue 11: the format owned by the core;
// issue 12, items 1, 13, 17, 18) ----

namespace {
// Recomputes every checksum, so that a test can make a file that lies in content only.
void reseal(std::vector<uint8_t>& a) {
  ArchiveHeader h;
  std::memcpy(&h, a.data(), sizeof h);
  const uint64_t table_end = sizeof h + uint64_t(h.section_count) * sizeof(SectionEntry);
  for (uint32_t i = 0; i < h.section_count; ++i) {
    SectionEntry e;
    std::memcpy(&e, a.data() + sizeof h + i * sizeof e, sizeof e);
    e.crc = crc32(a.data() + e.offset, e.length);
    std::memcpy(a.data() + sizeof h + i * sizeof e, &e, sizeof e);
  }
  const uint32_t crc = header_crc(a.data(), table_end);
  std::memcpy(a.data() + offsetof(ArchiveHeader, header_crc), &crc, sizeof crc);
}

ErrorKind load_error(const std::vector<uint8_t>& a) {
  try {
    const ArchiveView v = parse_archive(a.data(), a.size());
    auto b = make_buffer_for(v);
    b->restore(v);
  } catch (const Error& e) {
    return e.kind();
  }
  return ErrorKind::State;  // "no error": never what a test expects here
}

template <typename Edit>
std::vector<uint8_t> with_header(std::vector<uint8_t> a, Edit edit) {
  ArchiveHeader h;
  std::memcpy(&h, a.data(), sizeof h);
  edit(h);
  std::memcpy(a.data(), &h, sizeof h);
  reseal(a);
  return a;
}

// The epoch record of an archive that has one, edited and resealed.
template <typename Edit>
std::vector<uint8_t> with_epoch(std::vector<uint8_t> a, Edit edit) {
  const ArchiveView v = parse_archive(a.data(), a.size());
  const uint64_t at = v.sections[v.epoch].offset;
  EpochRecord r;
  std::memcpy(&r, a.data() + at, sizeof r);
  edit(r, reinterpret_cast<double*>(a.data() + at + sizeof r));
  std::memcpy(a.data() + at, &r, sizeof r);
  reseal(a);
  return a;
}

std::unique_ptr<ReplayBuffer> prioritized_buffer(uint64_t cap, uint64_t n) {
  PrioritizedOptions o;
  o.alpha = 0.7;
  auto b = make_buffer(cap, o);
  fill(*b, n, 4);
  return b;
}
}  // namespace

TEST_CASE("the exporter's bytes are the same whatever the chunk size, and every checksum holds") {
  auto b = prioritized_buffer(13, 30);
  ArchiveMeta meta = meta_of(true);
  meta.epoch.epoch = 1;
  meta.epoch.cursor = 2;
  meta.epoch.flags |= kEpochHasKeys;
  meta.epoch_keys = {1, 5, 27, 3};
  const auto whole = encode_archive(*b, meta);
  for (uint64_t chunk : {1ull, 3ull, 8ull, 63ull, 64ull, 100ull, 4096ull, 1ull << 20}) {
    ArchiveExporter x(*b, meta);
    std::vector<uint8_t> out(x.file_bytes(), 0), buf(chunk);
    uint64_t position = 0, written = 0;
    for (uint64_t n; (n = x.next(buf.data(), buf.size(), &position)) != 0; written += n) {
      REQUIRE(n <= chunk);
      std::memcpy(out.data() + position, buf.data(), n);
    }
    CHECK(x.done());
    const auto head = x.head();
    CHECK(written + head.size() == x.write_bytes());
    std::memcpy(out.data(), head.data(), head.size());
    CHECK(out == whole);
    x.check_head(head.data(), head.size());
  }
  const ArchiveView v = parse_archive(whole.data(), whole.size());
  ChecksumVerifier verifier;
  uint64_t steps = 0;
  while (!verifier.step(v, 100)) ++steps;
  CHECK(steps > 5);
  for (bool ok : check_sections(v)) CHECK(ok);
}

TEST_CASE("the exporter's head is known only at the end; a head that does not read back is refused") {
  auto b = prioritized_buffer(8, 5);
  ArchiveExporter x(*b, meta_of());
  CHECK_THROWS_AS(x.head(), Error);
  std::vector<uint8_t> buf(1 << 16);
  uint64_t position;
  while (x.next(buf.data(), buf.size(), &position)) {
  }
  auto head = x.head();
  x.check_head(head.data(), head.size());
  for (size_t at : {size_t(0), size_t(40), size_t(252), head.size() - 8}) {  // magic, capacity, the crc, a section crc
    auto bad = head;
    bad[at] ^= 4;
    CHECK_THROWS_AS(x.check_head(bad.data(), bad.size()), Error);
  }
  CHECK_THROWS_AS(x.check_head(head.data(), head.size() - 1), Error);
}

TEST_CASE("an epoch section with no keys gets its real checksum and loads (issue 12, item 1)") {
  auto b = prioritized_buffer(8, 6);
  for (bool random : {false, true}) {
    ArchiveMeta meta = meta_of(!random);
    if (random) {  // getStepsAndIterator({ nEpochs: 0 }): random batches, no iterator
      meta.has_epoch = true;
      meta.epoch.random_batch_size = 4;
    }
    const auto a = encode_archive(*b, meta);
    const ArchiveView v = parse_archive(a.data(), a.size());
    CHECK(v.sections[v.epoch].crc == crc32(a.data() + v.sections[v.epoch].offset, sizeof(EpochRecord)));
    CHECK(v.sections[v.epoch].crc != 0);
    ChecksumVerifier verifier;
    CHECK(verifier.step(v, ~uint64_t(0)));
    auto again = make_buffer_for(v);
    again->restore(v);
  }
}

TEST_CASE("a corrupt section is named by the verifier; the header checksum is checked by parse") {
  auto b = prioritized_buffer(8, 6);
  auto a = encode_archive(*b, meta_of());
  const ArchiveView v = parse_archive(a.data(), a.size());
  a[v.sections[v.field_data[1]].offset + 3] ^= 1;  // field 'obs'
  const ArchiveView corrupt = parse_archive(a.data(), a.size());
  ChecksumVerifier verifier;
  try {
    while (!verifier.step(corrupt, 7)) {
    }
    FAIL("no throw");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::Archive);
    CHECK(std::string(e.what()).find("field data section (field 'obs')") != std::string::npos);
  }
  CHECK(check_sections(corrupt)[v.field_data[1]] == false);
  auto head = encode_archive(*b, meta_of());
  head[offsetof(ArchiveHeader, seed)] ^= 1;  // a free-form header byte: only the checksum catches it
  CHECK_THROWS_AS(parse_archive(head.data(), head.size()), Error);
}

TEST_CASE("crafted archives with valid checksums but impossible state are refused with Error(Archive)") {
  auto b = prioritized_buffer(8, 6);
  ArchiveMeta meta = meta_of(true);
  meta.epoch.epoch = 1;
  meta.epoch.flags |= kEpochHasKeys;
  meta.epoch_keys = {0, 1, 2};
  const auto good = encode_archive(*b, meta);
  CHECK(load_error(good) == ErrorKind::State);  // loads
  // the maximum priority below a stored priority
  CHECK(load_error(with_header(good, [](ArchiveHeader& h) { h.max_priority = 0.5; })) == ErrorKind::Archive);
  // header values out of range: a seed that is NaN or not a safe integer, betaFrames >= 2^53, progress beyond 2^53
  CHECK(load_error(with_header(good, [](ArchiveHeader& h) { h.seed = NAN; })) == ErrorKind::Archive);
  CHECK(load_error(with_header(good, [](ArchiveHeader& h) { h.seed = 1.5; })) == ErrorKind::Archive);
  CHECK(load_error(with_header(good, [](ArchiveHeader& h) { h.seed = 9007199254740992.0; })) == ErrorKind::Archive);
  CHECK(load_error(with_header(good, [](ArchiveHeader& h) { h.beta_frames = (uint64_t(1) << 53) + 1; })) ==
        ErrorKind::Archive);
  CHECK(load_error(with_header(good, [](ArchiveHeader& h) { h.sample_calls = uint64_t(1) << 60; })) ==
        ErrorKind::Archive);
  // an all-zero generator state (issue 12, item 13)
  CHECK(load_error(with_header(good, [](ArchiveHeader& h) { std::memset(h.rng_state, 0, sizeof h.rng_state); })) ==
        ErrorKind::Archive);
  // epoch keys that are NaN, fractional, or never issued
  CHECK(load_error(with_epoch(good, [](EpochRecord&, double* k) { k[1] = NAN; })) == ErrorKind::Archive);
  CHECK(load_error(with_epoch(good, [](EpochRecord&, double* k) { k[1] = 0.5; })) == ErrorKind::Archive);
  CHECK(load_error(with_epoch(good, [](EpochRecord&, double* k) { k[2] = 1e6; })) == ErrorKind::Archive);
  // absurd random batch sizes, an epoch batch size of 0, impossible counts and flags
  auto random = [](EpochRecord& r, uint64_t n) {
    r = EpochRecord{};
    r.random_batch_size = n;
  };
  ArchiveMeta rmeta = meta_of();
  rmeta.has_epoch = true;
  rmeta.epoch.random_batch_size = 3;
  const auto rgood = encode_archive(*b, rmeta);
  CHECK(load_error(rgood) == ErrorKind::State);
  CHECK(load_error(with_epoch(rgood, [&](EpochRecord& r, double*) { random(r, 9); })) == ErrorKind::Archive);
  CHECK(load_error(with_epoch(rgood, [&](EpochRecord& r, double*) { random(r, uint64_t(1) << 40); })) ==
        ErrorKind::Archive);
  CHECK(load_error(with_epoch(rgood, [&](EpochRecord& r, double*) { random(r, 0); })) == ErrorKind::Archive);
  CHECK(load_error(with_epoch(good, [](EpochRecord& r, double*) { r.batch_size = 0; })) == ErrorKind::Archive);
  CHECK(load_error(with_epoch(good, [](EpochRecord& r, double*) { r.epoch = 5; })) == ErrorKind::Archive);
  CHECK(load_error(with_epoch(good, [](EpochRecord& r, double*) { r.flags |= 1u << 7; })) == ErrorKind::Archive);
  CHECK(load_error(with_epoch(good, [](EpochRecord& r, double*) { r.random_batch_size = 2; })) == ErrorKind::Archive);
  CHECK(load_error(with_epoch(good, [](EpochRecord& r, double*) { r.cursor = 4; })) == ErrorKind::Archive);
}

TEST_CASE("priorities whose total overflows are refused by restore, which leaves the buffer empty") {
  PrioritizedOptions o;
  o.alpha = 1.0;
  auto b = make_buffer(4, o);
  Rows rows(0, 2);
  std::vector<double> p = {1e307, 1e307};
  b->push(rows.cols, 2, p.data());
  auto a = encode_archive(*b, meta_of());
  const ArchiveView v0 = parse_archive(a.data(), a.size());
  double huge[2] = {1e308, 1e308};
  std::memcpy(a.data() + v0.sections[v0.priorities].offset, huge, sizeof huge);
  a = with_header(a, [](ArchiveHeader& h) { h.max_priority = 1e308; });
  const ArchiveView v = parse_archive(a.data(), a.size());
  auto again = make_buffer_for(v);
  try {
    again->restore(v);
    FAIL("no throw");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::Archive);
  }
  CHECK(again->length() == 0);
}

TEST_CASE("the archive carries the prioritized state; a uniform one holds zeros, and older ones still load") {
  PrioritizedOptions o;
  o.alpha = 0.8;
  o.epsilon = 0.125;
  o.beta = BetaSchedule{0.3, 0.9, 77};
  auto b = make_buffer(8, o);
  fill(*b, 8, 2);
  Batch out(3);
  auto w = words(3, 9);
  for (int i = 0; i < 5; ++i) b->sample(3, w.data(), out.outs, out.keys.data(), out.weights.data());
  const auto a = encode_archive(*b, meta_of());
  const ArchiveView v = parse_archive(a.data(), a.size());
  CHECK(v.header.epsilon == 0.125);
  CHECK(v.header.beta_frames == 77);
  CHECK(v.header.sample_calls == 5);
  auto again = make_buffer_for(v);
  again->restore(v);
  CHECK(again->prioritized_sampler()->beta() == b->prioritized_sampler()->beta());
  CHECK(again->prioritized_sampler()->epsilon() == 0.125);
  // a buffer of other prioritized options refuses it
  PrioritizedOptions other = o;
  other.epsilon = 0.5;
  auto mismatched = make_buffer(8, other);
  CHECK_THROWS_AS(mismatched->restore(v), Error);

  auto u = make_buffer(8);
  fill(*u, 5, 1);
  auto ua = encode_archive(*u, meta_of());
  const ArchiveView uv = parse_archive(ua.data(), ua.size());
  CHECK(uv.header.alpha == 0);
  CHECK(uv.header.beta_start == 0);
  CHECK(uv.header.epsilon == 0);
  CHECK(uv.header.max_priority == 0);
  CHECK(uv.header.beta_frames == 0);
  // as the facade wrote them before: its defaults in a uniform buffer's header
  auto old = with_header(ua, [](ArchiveHeader& h) {
    h.beta_start = 0.4;
    h.beta_end = 1;
    h.epsilon = 1e-6;
    h.beta_frames = 100000;
    h.max_priority = 1;
  });
  CHECK(load_error(old) == ErrorKind::State);
}

namespace {
// The rate limiter record of an archive that has one, edited and resealed.
template <typename Edit>
std::vector<uint8_t> with_limiter(std::vector<uint8_t> a, Edit edit) {
  const ArchiveView v = parse_archive(a.data(), a.size());
  const uint64_t at = v.sections[v.rate_limiter].offset;
  RateLimiterRecord r;
  std::memcpy(&r, a.data() + at, sizeof r);
  edit(r);
  std::memcpy(a.data() + at, &r, sizeof r);
  reseal(a);
  return a;
}

ErrorKind parse_error(const std::vector<uint8_t>& a) {
  try {
    parse_archive(a.data(), a.size());
  } catch (const Error& e) {
    return e.kind();
  }
  return ErrorKind::State;  // "no error"
}
}  // namespace

TEST_CASE("the rate limiter section: counters and configuration round-trip exactly; it must fit the buffer") {
  auto b = make_buffer(8);
  fill(*b, 6, 3);
  const RateLimiterConfig cfg = RateLimiter::from_options(4, 1.5, 3.25);
  RateLimiter rl(cfg);
  rl.on_insert(6);                 // diff 9 = 6 * 1.5, range [2.75, 9.25]
  CHECK(rl.try_sample(2));         // 7
  CHECK(rl.try_insert(1));         // 8.5
  CHECK_FALSE(rl.try_insert(1));   // 10 > 9.25
  rl.on_sample(1);
  RateLimiterCounters k = rl.counters();
  k.insert_waits = 3;
  k.sample_waits = 5;
  k.insert_wait_ns = 123456789;
  k.sample_wait_ns = (uint64_t(1) << 62) + 7;
  rl.restore(k);
  rl.set_enabled(false);
  rl.set_enabled(true);  // a non-zero offset
  rl.set_enabled(false);
  const RateLimiterCounters saved = rl.counters();
  REQUIRE(saved.offset != 0);

  ArchiveMeta meta = meta_of();
  meta.has_rate_limiter = true;
  meta.rate_limiter = rate_limiter_record(rl);
  const auto a = encode_archive(*b, meta);
  const ArchiveView v = parse_archive(a.data(), a.size());
  REQUIRE(v.rate_limiter >= 0);
  CHECK(check_sections(v) == std::vector<bool>(v.sections.size(), true));
  CHECK(section_label(v, size_t(v.rate_limiter)) == "rate limiter");

  RateLimiter again(cfg);
  restore_rate_limiter(v, &again);
  const RateLimiterCounters got = again.counters();
  CHECK(std::memcmp(&got, &saved, sizeof got) == 0);
  CHECK_FALSE(again.enabled());
  CHECK(again.diff() == rl.diff());
  CHECK(again.config().error_buffer == 3.25);

  // it must fit: other options, no limiter, or a limiter where the archive has none
  RateLimiter other(RateLimiter::from_options(4, 1.5, 3.5));
  CHECK_THROWS_AS(check_rate_limiter_fits(v, &other), Error);
  CHECK(other.counters().inserts == 0);
  CHECK_THROWS_AS(restore_rate_limiter(v, nullptr), Error);
  const auto plain = encode_archive(*b, meta_of());
  const ArchiveView pv = parse_archive(plain.data(), plain.size());
  CHECK(pv.rate_limiter == -1);
  CHECK_THROWS_AS(check_rate_limiter_fits(pv, &again), Error);
  CHECK_NOTHROW(check_rate_limiter_fits(pv, nullptr));

  // MinSize round-trips too, with its infinite range
  RateLimiter ms(RateLimiter::from_options(3, std::nullopt, std::nullopt));
  ms.on_insert(2);
  meta.rate_limiter = rate_limiter_record(ms);
  const auto ma = encode_archive(*b, meta);
  const ArchiveView mv = parse_archive(ma.data(), ma.size());
  RateLimiter ms2(RateLimiter::min_size(3));
  restore_rate_limiter(mv, &ms2);
  CHECK(ms2.counters().inserts == 2);
  CHECK(ms2.enabled());
  CHECK_FALSE(ms2.can_sample(1));
}

TEST_CASE("crafted rate limiter records are refused with Error(Archive), and unwritable ones are not written") {
  auto b = make_buffer(8);
  fill(*b, 4, 5);
  RateLimiter rl(RateLimiter::from_options(4, 2.0, 4.0));
  ArchiveMeta meta = meta_of();
  meta.has_rate_limiter = true;
  meta.rate_limiter = rate_limiter_record(rl);
  const auto good = encode_archive(*b, meta);
  CHECK(parse_error(good) == ErrorKind::State);  // parses
  auto bad = [&](auto edit) { return parse_error(with_limiter(good, edit)); };
  CHECK(bad([](RateLimiterRecord& r) { r.flags |= 1u << 5; }) == ErrorKind::Archive);
  CHECK(bad([](RateLimiterRecord& r) { r.reserved[1] = 1; }) == ErrorKind::Archive);
  CHECK(bad([](RateLimiterRecord& r) { r.min_size = 9; r.min_diff = 18 - 4; r.max_diff = 18 + 4; }) == ErrorKind::Archive);
  CHECK(bad([](RateLimiterRecord& r) { r.min_size = 0; }) == ErrorKind::Archive);
  CHECK(bad([](RateLimiterRecord& r) { r.samples_per_insert = NAN; }) == ErrorKind::Archive);
  CHECK(bad([](RateLimiterRecord& r) { r.error_buffer = 1.0; }) == ErrorKind::Archive);   // narrower than 2 * spi
  CHECK(bad([](RateLimiterRecord& r) { r.max_diff = 100; }) == ErrorKind::Archive);      // disagrees with its options
  CHECK(bad([](RateLimiterRecord& r) { r.error_buffer = INFINITY; }) == ErrorKind::Archive);  // not MinSize's range
  CHECK(bad([](RateLimiterRecord& r) { r.offset = NAN; }) == ErrorKind::Archive);
  CHECK(bad([](RateLimiterRecord& r) { r.offset = -INFINITY; }) == ErrorKind::Archive);
  // a section of the wrong size, and two of them
  {
    auto a = good;
    const ArchiveView v = parse_archive(a.data(), a.size());
    SectionEntry e;
    const uint64_t at = sizeof(ArchiveHeader) + uint64_t(v.rate_limiter) * sizeof e;
    std::memcpy(&e, a.data() + at, sizeof e);
    e.length = 64;
    std::memcpy(a.data() + at, &e, sizeof e);
    reseal(a);
    CHECK(parse_error(a) == ErrorKind::Archive);
  }
  // counters the core would refuse to write
  ArchiveMeta worse = meta;
  worse.rate_limiter.offset = NAN;
  CHECK_THROWS_AS(encode_archive(*b, worse), Error);
  worse = meta;
  worse.rate_limiter.min_size = 100;  // above the capacity
  CHECK_THROWS_AS(encode_archive(*b, worse), Error);
}

TEST_CASE("extension sections: named blobs the facade owns, stored as they are, checked on load") {
  auto b = prioritized_buffer(8, 6);
  ArchiveMeta meta = meta_of();
  meta.extensions.push_back({"replaykit/redis:s", {'{', '}', 0, 255}});
  meta.extensions.push_back({"empty", {}});
  const auto a = encode_archive(*b, meta);
  const ArchiveView v = parse_archive(a.data(), a.size());
  REQUIRE(v.extensions.size() == 2);
  CHECK(v.extension_name(0) == "replaykit/redis:s");
  uint64_t n = 0;
  const uint8_t* d = v.extension_data(0, &n);
  CHECK(std::vector<uint8_t>(d, d + n) == meta.extensions[0].data);
  CHECK(v.extension_name(1) == "empty");
  v.extension_data(1, &n);
  CHECK(n == 0);
  CHECK(section_label(v, size_t(v.extensions[0])) == "extension 'replaykit/redis:s'");
  ChecksumVerifier ok;
  while (!ok.step(v, 1 << 20)) {
  }
  CHECK(load_error(a) == ErrorKind::State);  // the buffer restores as without extensions
  // Without extensions the archive is as before: none in the view.
  const auto plain = encode_archive(*b, meta_of());
  CHECK(parse_archive(plain.data(), plain.size()).extensions.empty());

  // What a plan refuses: too many, an empty, overlong or repeated name.
  auto plan_error = [&](const std::vector<ArchiveExtension>& xs) {
    ArchiveMeta m = meta_of();
    m.extensions = xs;
    try {
      plan_archive(*b, m);
    } catch (const Error& e) {
      return e.kind();
    }
    return ErrorKind::State;
  };
  CHECK(plan_error({{"", {1}}}) == ErrorKind::Archive);
  CHECK(plan_error({{std::string(kMaxExtensionName + 1, 'x'), {1}}}) == ErrorKind::Archive);
  CHECK(plan_error({{"a", {1}}, {"a", {2}}}) == ErrorKind::Archive);
  std::vector<ArchiveExtension> many;
  for (uint32_t i = 0; i <= kMaxExtensions; ++i) many.push_back({"x" + std::to_string(i), {}});
  CHECK(plan_error(many) == ErrorKind::Archive);
  many.pop_back();
  CHECK(plan_error(many) == ErrorKind::State);  // kMaxExtensions is allowed

  // Crafted framing with a valid header checksum: each refused by parse.
  auto with_record = [&](auto edit) {
    auto c = a;
    ExtensionRecord r;
    std::memcpy(&r, c.data() + v.sections[v.extensions[0]].offset, sizeof r);
    edit(r);
    std::memcpy(c.data() + v.sections[v.extensions[0]].offset, &r, sizeof r);
    reseal(c);
    return c;
  };
  CHECK(load_error(with_record([](ExtensionRecord& r) { r.name_length += 1; })) == ErrorKind::Archive);
  CHECK(load_error(with_record([](ExtensionRecord& r) { r.name_length = 0; })) == ErrorKind::Archive);
  CHECK(load_error(with_record([](ExtensionRecord& r) { r.data_length = uint64_t(1) << 62; })) == ErrorKind::Archive);
  CHECK(load_error(with_record([](ExtensionRecord& r) { r.reserved = 1; })) == ErrorKind::Archive);
  auto with_entry = [&](int section, auto edit) {
    auto c = a;
    SectionEntry e;
    const uint64_t at = sizeof(ArchiveHeader) + uint64_t(section) * sizeof e;
    std::memcpy(&e, c.data() + at, sizeof e);
    edit(e);
    std::memcpy(c.data() + at, &e, sizeof e);
    reseal(c);
    return c;
  };
  CHECK(load_error(with_entry(v.extensions[1], [](SectionEntry& e) { e.index = 0; })) == ErrorKind::Archive);  // out of order
  CHECK(load_error(with_entry(v.extensions[1], [](SectionEntry& e) { e.index = 7; })) == ErrorKind::Archive);
  // Two extensions of one name (the second renamed in place, same length).
  ArchiveMeta twins = meta_of();
  twins.extensions = {{"ab", {1}}, {"ac", {2}}};
  auto t = encode_archive(*b, twins);
  const ArchiveView tv = parse_archive(t.data(), t.size());
  t[tv.sections[tv.extensions[1]].offset + sizeof(ExtensionRecord) + 1] = 'b';
  reseal(t);
  CHECK(load_error(t) == ErrorKind::Archive);

  // A flipped data byte: only the section's checksum catches it, and the verifier names it.
  auto corrupt = a;
  corrupt[v.sections[v.extensions[0]].offset + sizeof(ExtensionRecord) + 17] ^= 1;
  const ArchiveView cv = parse_archive(corrupt.data(), corrupt.size());
  ChecksumVerifier verifier;
  try {
    while (!verifier.step(cv, 1 << 20)) {
    }
    FAIL("no throw");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::Archive);
    CHECK(std::string(e.what()).find("extension section") != std::string::npos);
  }
}
