// replaykit core: CRC-32 as zlib computes it (the reflected polynomial 0xEDB88320, initial
// and final value inverted), so a running value can be continued by zlib.crc32 and back.
// Archives checksum every section and their header with it.
#pragma once
#include <cstddef>
#include <cstdint>

namespace replaykit {

// The CRC-32 of data[0 .. n) continuing `crc` (0 to start): crc32(b, crc32(a)) == crc32(a ++ b),
// and a zero-length range returns `crc` unchanged.
uint32_t crc32(const void* data, size_t n, uint32_t crc = 0);

// The portable path alone (slicing-by-8), whatever the CPU offers: for tests, which check
// that the carry-less-multiply path agrees with it bit for bit.
uint32_t crc32_portable(const void* data, size_t n, uint32_t crc = 0);

}  // namespace replaykit
