// The limits of a schema (schema.h) are enforced when a buffer is made, and every buffer
// within them can be archived and its archive parsed (issue 12, item 6).
#include <doctest/doctest.h>

#include <string>

#include "archive.h"
#include "helpers.h"

using namespace rk_test;

namespace {
ErrorKind kind_of(void (*f)()) {
  try {
    f();
  } catch (const Error& e) {
    return e.kind();
  }
  FAIL("no error");
  return ErrorKind::State;
}

std::vector<Field> fields(size_t n) {
  std::vector<Field> out;
  for (size_t i = 0; i < n; ++i) out.push_back(make_field("f" + std::to_string(i), Dtype::Uint8, {}));
  return out;
}

ArchiveMeta meta() {
  ArchiveMeta m;
  m.rng_state[1] = 99;
  return m;
}
}  // namespace

TEST_CASE("a schema of more than kMaxFields fields is refused") {
  CHECK(Schema(fields(kMaxFields)).size() == kMaxFields);
  CHECK(kind_of([] { Schema s(fields(kMaxFields + 1)); }) == ErrorKind::Shape);
}

TEST_CASE("a field name longer than kMaxNameBytes is refused; one of exactly that length is kept") {
  CHECK(Schema({make_field(std::string(kMaxNameBytes, 'n'), Dtype::Float32, {})}).size() == 1);
  CHECK(kind_of([] { Schema s({make_field(std::string(kMaxNameBytes + 1, 'n'), Dtype::Float32, {})}); }) ==
        ErrorKind::Shape);
}

TEST_CASE("more than kMaxDims dimensions are refused") {
  CHECK(make_field("x", Dtype::Float32, std::vector<uint64_t>(kMaxDims, 1)).shape.size() == kMaxDims);
  CHECK(kind_of([] { make_field("x", Dtype::Float32, std::vector<uint64_t>(kMaxDims + 1, 1)); }) == ErrorKind::Shape);
}

TEST_CASE("a capacity of 0 is refused") {
  CHECK(kind_of([] { ReplayBuffer b(std::make_unique<MemoryStorage>(small_schema(), 0), std::nullopt); }) ==
        ErrorKind::Range);
}

TEST_CASE("a buffer at every limit archives, and its archive parses and restores") {
  std::vector<Field> f = fields(kMaxFields - 1);
  f.push_back(make_field(std::string(kMaxNameBytes, 'z'), Dtype::Float32, std::vector<uint64_t>(kMaxDims, 1)));
  ReplayBuffer b(std::make_unique<MemoryStorage>(Schema(f), 3), std::nullopt);
  std::vector<uint8_t> bytes(16, 1);
  std::vector<const void*> cols(f.size(), bytes.data());
  b.push(cols.data(), 2, nullptr);
  const auto archive = encode_archive(b, meta());
  const ArchiveView v = parse_archive(archive.data(), archive.size());
  CHECK(v.schema.size() == kMaxFields);
  auto again = make_buffer_for(v);
  again->restore(v);
  CHECK(again->length() == 2);
}
