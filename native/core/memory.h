// replaykit core: the large blocks of a buffer (rows, trees, per-slot tables).
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>

#include "error.h"

namespace replaykit {

// A block of `bytes` bytes, 64-byte aligned, or nullptr when it cannot be allocated.
// From 2 MiB up the block is 2 MiB aligned and, on Linux, advised for transparent huge
// pages (MADV_HUGEPAGE): a replay buffer reads its rows and tree nodes at random, and
// with 4 KiB pages nearly every such read also misses the TLB. Pages are still only
// backed when first written. Free with free_block.
void* allocate_block(size_t bytes);
void free_block(void* p);

// n values of T in one such block (huge pages from 2 MiB up), each set to `fill`: the tables
// read at random by samples (sum/min tree nodes, the episode index, n-step records, tiered
// storage's locations), where a std::vector's 4 KiB pages would add a TLB miss to nearly every
// read. Error(Range) when it cannot be allocated.
template <typename T>
class BlockArray {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>, "a block holds plain records");

 public:
  BlockArray() = default;
  explicit BlockArray(size_t n, const T& fill = T{}) : p_(static_cast<T*>(allocate_block(n * sizeof(T)))), n_(n) {
    if (!p_) fail(ErrorKind::Range, "cannot allocate " + std::to_string(n * sizeof(T)) + " bytes of memory");
    std::uninitialized_fill_n(p_, n, fill);
  }
  BlockArray(BlockArray&& o) noexcept : p_(o.p_), n_(o.n_) {
    o.p_ = nullptr;
    o.n_ = 0;
  }
  BlockArray& operator=(BlockArray&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  BlockArray(const BlockArray&) = delete;
  BlockArray& operator=(const BlockArray&) = delete;
  ~BlockArray() { free_block(p_); }
  T& operator[](size_t i) { return p_[i]; }
  const T& operator[](size_t i) const { return p_[i]; }
  size_t size() const { return n_; }
  T* data() { return p_; }
  const T* data() const { return p_; }
  T* begin() { return p_; }
  T* end() { return p_ + n_; }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};

}  // namespace replaykit
