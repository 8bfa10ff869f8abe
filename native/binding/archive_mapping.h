// replaykit binding: the read-only mapping of an archive file behind an ArchiveMap, shared
// with the external ArrayBuffer that views it.
//
// The mapping itself is the core's MappedFile (read-only mode: regular files only, so a
// FIFO is refused at once; no descriptor kept; registered with the SIGBUS fault guard). This
// adds the reference count the two JS-side holders need.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "file.h"

namespace replaykit_node {

// Shared by the ArchiveMap and the external ArrayBuffer that views it (reference-counted):
// unmapped when the map is closed (after the buffer is detached) or when the last of the
// two lets go.
class ArchiveMapping {
 public:
  // Maps the regular file at `path` read-only, with one reference. Throws Error(Archive) for
  // a file that cannot be opened or mapped, is not a regular file, or is shorter than `min_size`.
  static ArchiveMapping* open(const std::string& path, size_t min_size);
  const uint8_t* data() const { return file_->data(); }  // null once unmapped
  size_t size() const { return file_->size(); }
  // Whether another process truncated the file under the mapping (reads past it see zeros).
  bool damaged() const { return file_->damaged(); }
  void retain() { ++refs_; }
  void release();  // deletes this at the last reference
  void unmap();    // now, whoever still holds a reference (they see data() null)

 private:
  explicit ArchiveMapping(std::unique_ptr<replaykit::MappedFile> file) : file_(std::move(file)) {}
  std::unique_ptr<replaykit::MappedFile> file_;
  int refs_ = 1;
};

}  // namespace replaykit_node
