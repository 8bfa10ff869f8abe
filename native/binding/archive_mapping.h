// replaykit binding: the read-only mapping of an archive file behind an ArchiveMap.
//
// Kept apart from the ArchiveMap object on purpose: it is to become the core's MappedFile
// (read-only mode) once that exists; the ArchiveMap only uses open / data / size / retain /
// release / unmap.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace replaykit_node {

// Shared by the ArchiveMap and the external ArrayBuffer that views it (reference-counted):
// unmapped when the map is closed (after the buffer is detached) or when the last of the
// two lets go.
class ArchiveMapping {
 public:
  // Maps the regular file at `path` read-only, with one reference. Throws Error(Archive) for
  // a file that cannot be opened or mapped, is not a regular file, or is shorter than `min_size`.
  static ArchiveMapping* open(const std::string& path, size_t min_size);
  const uint8_t* data() const { return data_; }  // null once unmapped
  size_t size() const { return size_; }
  void retain() { ++refs_; }
  void release();  // deletes this at the last reference
  void unmap();    // now, whoever still holds a reference (they see data() null)

 private:
  ArchiveMapping(uint8_t* data, size_t size) : data_(data), size_(size) {}
  ~ArchiveMapping() { unmap(); }
  uint8_t* data_;
  size_t size_;
  int refs_ = 1;
};

}  // namespace replaykit_node
