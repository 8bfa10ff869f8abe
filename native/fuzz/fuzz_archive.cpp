// libFuzzer target: archive parsing and restoring, the native code that reads untrusted
// files. Any input must end in success or a replaykit::Error, never a crash, a sanitizer
// report, or a large allocation.
//
//   npm run fuzz -- 60          # build with clang, seed the corpus, fuzz for 60 seconds
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "archive.h"
#include "buffer.h"
#include "error.h"

using namespace replaykit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* input, size_t size) {
  // Seal the header checksum first (when the table fits), so that mutations reach the rest of
  // the parser and the restore instead of stopping at the checksum.
  std::vector<uint8_t> bytes(input, input + size);
  const uint8_t* data = bytes.data();
  if (size >= sizeof(ArchiveHeader)) {
    ArchiveHeader h;
    std::memcpy(&h, data, sizeof h);
    const uint64_t table_end = sizeof h + uint64_t(h.section_count) * sizeof(SectionEntry);
    if (table_end <= size) {
      const uint32_t crc = header_crc(data, table_end);
      std::memcpy(bytes.data() + offsetof(ArchiveHeader, header_crc), &crc, sizeof crc);
    }
  }
  try {
    const ArchiveView v = parse_archive(data, size);
    // Restore only what fits in a small memory budget: the facade refuses absurd sizes
    // before it allocates, and this target is about the parser and the restore logic.
    const uint64_t row = v.schema.row_bytes();
    if (v.header.capacity > (1u << 16) || row == 0 || v.header.capacity * row > (32u << 20)) return 0;
    auto buffer = make_buffer_for(v);
    ReplayBuffer& b = *buffer;
    b.restore(v);
    if (b.length() > 0) {  // the restored buffer must be fully usable
      const uint64_t n = b.length() < 8 ? b.length() : 8;
      std::vector<uint32_t> words(2 * n, 0x9e3779b9u);
      std::vector<std::vector<uint8_t>> outs(b.schema().size());
      std::vector<void*> ptrs;
      for (size_t f = 0; f < b.schema().size(); ++f) {
        outs[f].resize(n * b.schema()[f].row_bytes);
        ptrs.push_back(outs[f].data());
      }
      std::vector<uint64_t> keys(n);
      std::vector<float> weights(n);
      b.sample(n, words.data(), ptrs.data(), keys.data(), weights.data(), 0.5);
      ChecksumVerifier verifier;  // the checksums of a fuzzed file: any outcome but a crash
      try {
        while (!verifier.step(v, 4096)) {
        }
      } catch (const Error&) {
      }
    }
  } catch (const Error&) {
  }
  return 0;
}
