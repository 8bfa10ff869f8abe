// replaykit core: the large blocks of a buffer (rows, trees, per-slot tables).
#pragma once
#include <cstddef>

namespace replaykit {

// A block of `bytes` bytes, 64-byte aligned, or nullptr when it cannot be allocated.
// From 2 MiB up the block is 2 MiB aligned and, on Linux, advised for transparent huge
// pages (MADV_HUGEPAGE): a replay buffer reads its rows and tree nodes at random, and
// with 4 KiB pages nearly every such read also misses the TLB. Pages are still only
// backed when first written. Free with free_block.
void* allocate_block(size_t bytes);
void free_block(void* p);

}  // namespace replaykit
