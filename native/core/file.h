// replaykit core: a file mapped into memory, for storage that lives on disk.
//
// The file is created (or an unlocked leftover of a killed process is taken over),
// locked with flock so that a second buffer cannot use the same path, reserved to its
// full size up front (posix_fallocate: running out of space is an error now, not a
// SIGBUS later), mapped once, and unmapped and deleted when the object is destroyed.
// Every path still open is also deleted at process exit.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace replaykit {

class MappedFile {
 public:
  // Throws Error(Storage) when the file cannot be created, locked, reserved or mapped.
  MappedFile(const std::string& path, size_t size);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Hints that reads are random (no read-ahead) from `offset` on.
  void advise_random(size_t offset) const;

 private:
  std::string path_;
  int fd_ = -1;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace replaykit
