#include "file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>

#include "error.h"

namespace replaykit {

namespace {

// Paths of every live MappedFile, deleted by an atexit handler if the process exits
// without destroying them (process.exit() in Node does not run finalizers).
std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::set<std::string>& registry() {
  static std::set<std::string>* paths = new std::set<std::string>();  // never destroyed: used at exit
  return *paths;
}
void unlink_all_at_exit() {
  std::lock_guard<std::mutex> lock(registry_mutex());
  for (const std::string& p : registry()) ::unlink(p.c_str());
  registry().clear();
}
void register_path(const std::string& path) {
  static std::once_flag once;
  std::call_once(once, [] { std::atexit(unlink_all_at_exit); });
  std::lock_guard<std::mutex> lock(registry_mutex());
  registry().insert(path);
}
void unregister_path(const std::string& path) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  registry().erase(path);
}

[[noreturn]] void fail_errno(const std::string& what, const std::string& path, int err) {
  std::string reason = std::strerror(err);
  if (err == ENOSPC) reason = "no space left on the device";
  fail(ErrorKind::Storage, what + " '" + path + "': " + reason);
}

}  // namespace

MappedFile::MappedFile(const std::string& path, size_t size) : path_(path), size_(size) {
  if (path.empty()) fail(ErrorKind::Storage, "a storage path must not be empty");
  if (size == 0) fail(ErrorKind::Storage, "a mapped file must not be empty");
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) fail_errno("cannot create the storage file", path, errno);
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd_);
    if (err == EWOULDBLOCK)
      fail(ErrorKind::Storage, "the storage file '" + path + "' is in use by another buffer");
    fail_errno("cannot lock the storage file", path, err);
  }
  struct stat st;
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    fail(ErrorKind::Storage, "the storage path '" + path + "' is not a regular file");
  }
  // We hold the lock: any content is a leftover of a process that died. Start afresh.
  int err = ::ftruncate(fd_, 0) == 0 ? 0 : errno;
  if (!err) err = ::posix_fallocate(fd_, 0, static_cast<off_t>(size));
  if (err) {
    ::unlink(path.c_str());
    ::close(fd_);
    fail_errno("cannot reserve " + std::to_string(size) + " bytes for the storage file", path, err);
  }
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) {
    err = errno;
    ::unlink(path.c_str());
    ::close(fd_);
    fail_errno("cannot map the storage file", path, err);
  }
  data_ = static_cast<uint8_t*>(p);
  register_path(path_);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, size_);
  ::unlink(path_.c_str());  // while we still hold the lock
  unregister_path(path_);
  if (fd_ >= 0) ::close(fd_);
}

void MappedFile::advise_random(size_t offset) const {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t start = (offset + page - 1) / page * page;
  if (start < size_) ::madvise(data_ + start, size_ - start, MADV_RANDOM);
}

}  // namespace replaykit
