#include "archive_mapping.h"

#include "error.h"

namespace replaykit_node {

using replaykit::ErrorKind;
using replaykit::fail;

ArchiveMapping* ArchiveMapping::open(const std::string& path, size_t min_size) {
  std::unique_ptr<replaykit::MappedFile> file = replaykit::MappedFile::open_readonly(path);
  if (file->size() < min_size)
    fail(ErrorKind::Archive,
         "not a valid archive: '" + path + "' is " + std::to_string(file->size()) + " bytes, shorter than a header");
  return new ArchiveMapping(std::move(file));
}

void ArchiveMapping::release() {
  if (--refs_ == 0) delete this;
}

void ArchiveMapping::unmap() { file_->close(); }

}  // namespace replaykit_node
