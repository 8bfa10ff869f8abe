// crc32.h: zlib's CRC-32, the carry-less-multiply path bit for bit equal to the portable one.
#include <doctest/doctest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "crc32.h"

using namespace replaykit;

namespace {
// The definition, one bit at a time.
uint32_t reference(const uint8_t* p, size_t n, uint32_t crc) {
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ ((crc & 1) ? 0xEDB88320u : 0);
  }
  return ~crc;
}
}  // namespace

TEST_CASE("crc32 gives zlib's check values") {
  const std::string check = "123456789";
  CHECK(crc32(check.data(), check.size()) == 0xCBF43926u);  // the standard check value of CRC-32/ISO-HDLC
  const std::string fox = "The quick brown fox jumps over the lazy dog";
  CHECK(crc32(fox.data(), fox.size()) == 0x414FA339u);
  CHECK(crc32(nullptr, 0) == 0u);
}

TEST_CASE("a zero-length range leaves the running value unchanged (zlib.crc32's bug on Node 20 gave 0)") {
  for (uint32_t running : {0u, 1u, 0xDEADBEEFu, 0xFFFFFFFFu}) {
    const uint8_t byte = 0;
    CHECK(crc32(&byte, 0, running) == running);
    CHECK(crc32_portable(&byte, 0, running) == running);
  }
}

TEST_CASE("crc32 continues: crc(a ++ b) == crc(b, crc(a))") {
  std::mt19937 g(3);
  std::vector<uint8_t> data(5000);
  for (auto& b : data) b = uint8_t(g());
  const uint32_t whole = crc32(data.data(), data.size());
  for (size_t cut : {size_t(0), size_t(1), size_t(63), size_t(64), size_t(1000), size_t(4999), size_t(5000)})
    CHECK(crc32(data.data() + cut, data.size() - cut, crc32(data.data(), cut)) == whole);
}

TEST_CASE("every length and alignment: the fast path, the portable path and the definition agree") {
  std::mt19937 g(11);
  std::vector<uint8_t> data(70000);
  for (auto& b : data) b = uint8_t(g());
  for (size_t n = 0; n < 600; ++n) {
    for (size_t offset : {size_t(0), size_t(1), size_t(7), size_t(13)}) {
      const uint32_t running = uint32_t(g());
      const uint32_t want = reference(data.data() + offset, n, running);
      REQUIRE(crc32(data.data() + offset, n, running) == want);
      REQUIRE(crc32_portable(data.data() + offset, n, running) == want);
    }
  }
  for (int round = 0; round < 40; ++round) {
    const size_t offset = g() % 64, n = g() % (data.size() - 64);
    const uint32_t running = round % 2 ? uint32_t(g()) : 0u;
    const uint32_t want = reference(data.data() + offset, n, running);
    REQUIRE(crc32(data.data() + offset, n, running) == want);
    REQUIRE(crc32_portable(data.data() + offset, n, running) == want);
  }
}
