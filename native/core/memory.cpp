#include "memory.h"

#include <cstdlib>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace replaykit {

namespace {
constexpr size_t kHugePage = size_t(2) << 20;
}

void* allocate_block(size_t bytes) {
  if (bytes == 0) bytes = 64;
  const size_t align = bytes >= kHugePage ? kHugePage : 64;
  void* p = nullptr;
  if (posix_memalign(&p, align, bytes) != 0) return nullptr;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  // Only whole huge pages inside the block; a refusal (THP off) changes nothing.
  if (align == kHugePage) madvise(p, bytes / kHugePage * kHugePage, MADV_HUGEPAGE);
#endif
  return p;
}

void free_block(void* p) { std::free(p); }

}  // namespace replaykit
