#include "archive_mapping.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "error.h"

namespace replaykit_node {

using replaykit::ErrorKind;
using replaykit::fail;

ArchiveMapping* ArchiveMapping::open(const std::string& path, size_t min_size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(ErrorKind::Archive, "cannot open the archive '" + path + "': " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(ErrorKind::Archive, "the archive path '" + path + "' is not a regular file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size < min_size) {
    ::close(fd);
    fail(ErrorKind::Archive,
         "not a valid archive: '" + path + "' is " + std::to_string(size) + " bytes, shorter than a header");
  }
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);
  if (p == MAP_FAILED) fail(ErrorKind::Archive, "cannot map the archive '" + path + "': " + std::strerror(err));
  return new ArchiveMapping(static_cast<uint8_t*>(p), size);
}

void ArchiveMapping::release() {
  if (--refs_ == 0) delete this;
}

void ArchiveMapping::unmap() {
  if (data_) ::munmap(data_, size_);
  data_ = nullptr;
}

}  // namespace replaykit_node
