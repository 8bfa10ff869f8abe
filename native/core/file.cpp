// Mapped files (file.h). Over 300 lines because the rules for which files replaykit may
// create, take over and delete (owner records, O_NOFOLLOW, identity checks) are one contract
// that reads best in one place.
#include "file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "error.h"
#include "fault_guard.h"

namespace replaykit {

namespace {

// ---- the files this process has open, for the exit cleanup and the same-file check ----

// Keyed by device and inode: the same file is the same file under any path (a hard link,
// a path through a symlinked directory).
struct OpenFile {
  std::string path;
  pid_t pid;  // the process that opened it: a forked child never deletes its parent's files
};
using Identity = std::pair<dev_t, ino_t>;

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::map<Identity, OpenFile>& registry() {
  static auto* files = new std::map<Identity, OpenFile>();  // never destroyed: used at exit
  return *files;
}

// Deletes `path` only if it still names the file (device, inode) that we created or took
// over: a file put at that path since is someone else's. (lstat and unlink are two calls:
// a swap in between, microseconds, is not detected; POSIX has no unlink-if-inode.)
void unlink_if_same(const std::string& path, dev_t dev, ino_t ino) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_dev == dev && st.st_ino == ino)
    ::unlink(path.c_str());
}

// Process exit without destroying every buffer (process.exit() in Node runs no finalizers).
void unlink_all_at_exit() {
  std::lock_guard<std::mutex> lock(registry_mutex());
  const pid_t self = ::getpid();
  for (const auto& [id, file] : registry())
    if (file.pid == self) unlink_if_same(file.path, id.first, id.second);
  registry().clear();
}

// False when the file is already open in this process.
bool register_file(const Identity& id, const std::string& path) {
  static std::once_flag once;
  std::call_once(once, [] { std::atexit(unlink_all_at_exit); });
  std::lock_guard<std::mutex> lock(registry_mutex());
  auto it = registry().find(id);
  if (it != registry().end() && it->second.pid == ::getpid()) return false;
  registry()[id] = OpenFile{path, ::getpid()};
  return true;
}
bool registered(const Identity& id) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  auto it = registry().find(id);
  return it != registry().end() && it->second.pid == ::getpid();
}
void unregister_file(const Identity& id) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  registry().erase(id);
}

// ---- errors ----

[[noreturn]] void fail_errno(const std::string& what, const std::string& path, int err) {
  std::string reason = std::strerror(err);
  if (err == ENOSPC) reason = "no space left on the device";
  fail(ErrorKind::Storage, what + " '" + path + "': " + reason);
}

[[noreturn]] void refuse(const std::string& path, const std::string& why) {
  fail(ErrorKind::Storage, "the storage path '" + path + "' " + why);
}

// ---- owners ----

// Reads up to n - 1 bytes of a small file (/proc); "" when it cannot.
std::string read_small(const char* path, size_t n = 4096) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string s(n, '\0');
  size_t got = 0;
  for (;;) {
    const ssize_t r = ::read(fd, &s[got], n - 1 - got);
    if (r > 0 && (got += size_t(r)) < n - 1) continue;
    if (r < 0 && errno == EINTR) continue;
    break;
  }
  ::close(fd);
  s.resize(got);
  return s;
}

// Field 22 of /proc/<pid>/stat: when the process started, in clock ticks after boot. With
// the pid it names one process: a recycled pid has a later start time. 0 when unknown.
// *zombie: the process has exited and waits to be reaped (field 3 is 'Z'): it is gone.
uint64_t start_ticks_of(pid_t pid, bool* zombie = nullptr) {
  const std::string stat = read_small(("/proc/" + std::to_string(pid) + "/stat").c_str());
  const size_t paren = stat.rfind(')');  // the command name may contain spaces and ')'
  if (paren == std::string::npos) return 0;
  const char* p = stat.c_str() + paren + 1;
  while (*p == ' ') ++p;
  if (zombie) *zombie = *p == 'Z' || *p == 'X';
  for (int field = 3; field < 22; ++field) {  // fields after the name start at 3 (state)
    while (*p == ' ') ++p;
    while (*p && *p != ' ') ++p;
  }
  return std::strtoull(p, nullptr, 10);
}

uint64_t pid_namespace() {
  char link[64] = {};
  const ssize_t n = ::readlink("/proc/self/ns/pid", link, sizeof link - 1);  // "pid:[4026531836]"
  if (n <= 0) return 0;
  const char* open = std::strchr(link, '[');
  return open ? std::strtoull(open + 1, nullptr, 10) : 0;
}

StorageOwner current_owner() {
  StorageOwner o;
  std::memset(&o, 0, sizeof o);
  o.pid = static_cast<uint32_t>(::getpid());
  o.start_ticks = start_ticks_of(::getpid());
  o.pid_namespace = pid_namespace();
  std::string boot = read_small("/proc/sys/kernel/random/boot_id", sizeof o.boot_id);
  while (!boot.empty() && (boot.back() == '\n' || boot.back() == ' ')) boot.pop_back();
  std::memcpy(o.boot_id, boot.data(), std::min(boot.size(), sizeof o.boot_id - 1));
  struct utsname u;
  if (::uname(&u) == 0) std::strncpy(o.host, u.nodename, sizeof o.host - 1);
  return o;
}

bool same_text(const char* a, const char* b, size_t n) { return std::strncmp(a, b, n) == 0; }

// Whether the recorded owner may still be using the file. When it cannot be judged
// (another host, another pid namespace) it counts as alive: the file is not ours to take.
// Sets *why to the reason for a refusal.
bool owner_alive(const StorageOwner& o, const StorageOwner& me, std::string* why) {
  const std::string who = "process " + std::to_string(o.pid);
  if (o.pid == 0) return false;  // never claimed
  if (!same_text(o.host, me.host, sizeof o.host)) {
    *why = "belongs to " + who + " on host '" + std::string(o.host, strnlen(o.host, sizeof o.host)) +
           "', which this process cannot check; delete it if no process uses it";
    return true;
  }
  if (o.boot_id[0] && me.boot_id[0] && !same_text(o.boot_id, me.boot_id, sizeof o.boot_id))
    return false;  // the machine has rebooted since: every process of that boot is gone
  if (o.pid_namespace != me.pid_namespace) {
    *why = "belongs to " + who + " of another pid namespace (container), which this process cannot check; "
           "delete it if no process uses it";
    return true;
  }
  *why = "is in use by another buffer (" + who + ")";
  if (::kill(static_cast<pid_t>(o.pid), 0) != 0 && errno == ESRCH) return false;
  bool zombie = false;
  const uint64_t now = start_ticks_of(static_cast<pid_t>(o.pid), &zombie);
  if (zombie) return false;             // exited, not yet reaped by its parent
  if (o.start_ticks == 0) return true;  // no start time recorded: a live pid counts as the owner
  return now == 0 || now == o.start_ticks;  // unknown: alive; another start time: a recycled pid
}

// ---- creation and takeover ----

// Takes the exclusive flock of a file we just created, waiting up to about a second: a
// process looking at the new file meanwhile holds it only for microseconds.
bool lock_new_file(int fd) {
  for (int attempt = 0; attempt < 200; ++attempt) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return true;
    if (errno != EWOULDBLOCK && errno != EINTR) return false;
    const struct timespec pause = {0, 5 * 1000 * 1000};
    ::nanosleep(&pause, nullptr);
  }
  return false;
}

// Opens the existing file at `path` for a takeover: returns its descriptor, locked,
// once everything says it is a replaykit storage file whose owner is gone. Otherwise
// throws Error(Storage) having written nothing: only a regular file of this user is
// opened at all, and nothing is written to it before every check has passed.
int open_dead_owners_file(const std::string& path, const StorageOwner& me, struct stat* out) {
  struct stat ls;
  if (::lstat(path.c_str(), &ls) != 0) fail_errno("cannot create the storage file", path, errno);
  if (S_ISLNK(ls.st_mode))
    refuse(path, "is a symbolic link; replaykit creates its storage file itself and never follows a link there");
  if (S_ISDIR(ls.st_mode)) refuse(path, "is a directory");
  if (!S_ISREG(ls.st_mode)) refuse(path, "exists and is not a regular file (a FIFO, socket or device)");
  if (ls.st_uid != ::geteuid()) refuse(path, "exists and belongs to another user; replaykit never overwrites a file it did not create");
  if (registered({ls.st_dev, ls.st_ino})) refuse(path, "is in use by another buffer of this process");
  // O_NOFOLLOW: never through a link swapped in since lstat; O_NONBLOCK: nor a FIFO.
  const int fd = ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ELOOP) refuse(path, "is a symbolic link; replaykit creates its storage file itself and never follows a link there");
    refuse(path, std::string("exists and cannot be opened to check it: ") + std::strerror(err));
  }
  auto give_up = [&](const std::string& why) {
    ::close(fd);
    refuse(path, why);
  };
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_dev != ls.st_dev || st.st_ino != ls.st_ino)
    give_up("was replaced while it was being opened");
  if (st.st_nlink != 1) give_up("exists and has other hard links; replaykit never overwrites a file it did not create");
  StorageFilePreamble pre;
  std::memset(&pre, 0, sizeof pre);
  const ssize_t got = ::pread(fd, &pre, sizeof pre, 0);
  const std::string not_ours = "exists and is not a replaykit storage file; replaykit never overwrites a file it did not create";
  if (got < 16 || std::memcmp(pre.magic, "RKSTORE", 8) != 0) give_up(not_ours);
  // The owner's mapping holds the file's flock for as long as it exists (flock belongs to
  // the open file description, which the mapping keeps after the descriptor is closed),
  // and the kernel drops it when the owner dies: taken, the owner is alive. A process
  // claiming the file holds it too, so two takeovers cannot both win.
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const bool named = got == ssize_t(sizeof pre) && pre.version == kStorageFileVersion && pre.owner.pid != 0;
    give_up("is in use by another buffer" + (named ? " (process " + std::to_string(pre.owner.pid) + ")" : std::string()));
  }
  // Read again under the lock: a claim that finished meanwhile has written its owner.
  std::memset(&pre, 0, sizeof pre);
  if (::pread(fd, &pre, sizeof pre, 0) != got || std::memcmp(pre.magic, "RKSTORE", 8) != 0) give_up(not_ours);
  if (pre.version == 1) {
    // Before owner records: the lock alone said the owner was gone.
    if (pre.header_bytes != kStorageHeaderBytes) give_up(not_ours);
  } else if (pre.version == kStorageFileVersion) {
    if (got != ssize_t(sizeof pre) || pre.header_bytes != kStorageHeaderBytes) give_up(not_ours);
    // The lock was free; the owner record is the second check (a lock not shared across
    // hosts on a network file system, a pid namespace that hides the owner).
    std::string why;
    if (owner_alive(pre.owner, me, &why)) give_up(why);
  } else {
    give_up("is a storage file of another replaykit version (" + std::to_string(pre.version) +
            "); delete it if no process uses it");
  }
  *out = st;
  return fd;
}

}  // namespace

std::unique_ptr<MappedFile> MappedFile::create_storage(const std::string& path, size_t size) {
  if (path.empty()) fail(ErrorKind::Storage, "a storage path must not be empty");
  if (path.find('\0') != std::string::npos) fail(ErrorKind::Storage, "a storage path must not contain a NUL character");
  if (size < kStorageHeaderBytes) fail(ErrorKind::Storage, "a storage file must be at least its header long");
  const StorageOwner me = current_owner();
  std::unique_ptr<MappedFile> f(new MappedFile());
  f->path_ = path;

  struct stat st;
  bool took_over = false;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd >= 0) {
    // Ours. Locked before the owner record is written, so that a process looking at the
    // new file meanwhile never acts on a half-written header; the mapping keeps the lock.
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      fail_errno("cannot inspect the new storage file", path, err);
    }
    if (!lock_new_file(fd)) {
      const int err = errno;
      ::close(fd);
      unlink_if_same(path, st.st_dev, st.st_ino);
      fail_errno("cannot lock the new storage file", path, err == EWOULDBLOCK ? EBUSY : err);
    }
  } else if (errno == EEXIST) {
    fd = open_dead_owners_file(path, me, &st);  // throws, leaving the file as it was
    took_over = true;
  } else {
    fail_errno("cannot create the storage file", path, errno);
  }
  // From here on the file is ours (created, or claimed from a dead owner): on failure it
  // is deleted, by identity.
  const Identity id{st.st_dev, st.st_ino};
  auto abandon = [&](const std::string& what, int err) {
    ::close(fd);
    unlink_if_same(path, id.first, id.second);
    fail_errno(what, path, err);
  };
  // The owner record first: if this process dies from here on, the file is a dead
  // process's storage file that the next run can take over.
  std::vector<uint8_t> header(kStorageHeaderBytes, 0);
  StorageFilePreamble pre;
  std::memset(&pre, 0, sizeof pre);
  std::memcpy(pre.magic, "RKSTORE", 8);
  pre.version = kStorageFileVersion;
  pre.header_bytes = kStorageHeaderBytes;
  pre.owner = me;
  std::memcpy(header.data(), &pre, sizeof pre);
  const ssize_t wrote = ::pwrite(fd, header.data(), header.size(), 0);
  if (wrote != ssize_t(header.size())) abandon("cannot write the storage file", wrote < 0 ? errno : ENOSPC);
  // A taken-over file's old rows are dropped (they read as zeros once it is extended).
  if (took_over && ::ftruncate(fd, static_cast<off_t>(kStorageHeaderBytes)) != 0)
    abandon("cannot resize the storage file", errno);
  if (const int err = ::posix_fallocate(fd, 0, static_cast<off_t>(size)))
    abandon("cannot reserve " + std::to_string(size) + " bytes for the storage file", err);
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) abandon("cannot map the storage file", errno);
  // The mapping keeps the file, and with it the flock taken above (until munmap or this
  // process's death): the descriptor is not needed.
  ::close(fd);
  f->data_ = static_cast<uint8_t*>(p);
  f->size_ = size;
  f->dev_ = id.first;
  f->ino_ = id.second;
  f->creator_ = ::getpid();
  if (!register_file(id, path)) {  // cannot happen: the owner check refused it above
    ::munmap(p, size);
    f->data_ = nullptr;
    refuse(path, "is in use by another buffer of this process");
  }
  f->writable_ = true;  // from here on the destructor deletes the file
  f->guard_slot_ = fault_guard::watch(p, size, PROT_READ | PROT_WRITE);
  if (f->guard_slot_ < 0) {
    f.reset();
    fail(ErrorKind::Storage, "too many mapped files are open in this process to map '" + path + "'");
  }
  return f;
}

std::unique_ptr<MappedFile> MappedFile::open_readonly(const std::string& path) {
  if (path.empty()) fail(ErrorKind::Archive, "an archive path must not be empty");
  if (path.find('\0') != std::string::npos) fail(ErrorKind::Archive, "an archive path must not contain a NUL character");
  const std::string not_regular = "the archive path '" + path + "' is not a regular file";
  // The type first (following links: an archive may be reached through one), so that a
  // FIFO or device is not even opened; O_NONBLOCK in case one is swapped in meanwhile.
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) fail(ErrorKind::Archive, not_regular);
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) fail(ErrorKind::Archive, "cannot open the archive '" + path + "': " + std::strerror(errno));
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(ErrorKind::Archive, not_regular);
  }
  std::unique_ptr<MappedFile> f(new MappedFile());
  f->path_ = path;
  f->dev_ = st.st_dev;
  f->ino_ = st.st_ino;
  f->size_ = static_cast<size_t>(st.st_size);
  if (f->size_ == 0) {
    ::close(fd);
    return f;  // nothing to map (mmap refuses a length of 0)
  }
  void* p = ::mmap(nullptr, f->size_, PROT_READ, MAP_SHARED, fd, 0);
  const int err = errno;
  ::close(fd);
  if (p == MAP_FAILED) fail(ErrorKind::Archive, "cannot map the archive '" + path + "': " + std::strerror(err));
  f->data_ = static_cast<uint8_t*>(p);
  f->guard_slot_ = fault_guard::watch(p, f->size_, PROT_READ);
  if (f->guard_slot_ < 0) {
    f.reset();
    fail(ErrorKind::Archive, "too many mapped files are open in this process to map '" + path + "'");
  }
  return f;
}

MappedFile::~MappedFile() { close(); }

bool MappedFile::damaged() const { return damaged_ || fault_guard::damaged(guard_slot_); }

void MappedFile::close() {
  if (guard_slot_ >= 0) {
    damaged_ = fault_guard::damaged(guard_slot_);
    fault_guard::unwatch(guard_slot_);  // before munmap: the address range may be reused
    guard_slot_ = -1;
  }
  if (data_) ::munmap(data_, size_);
  data_ = nullptr;
  if (writable_) {
    writable_ = false;
    unregister_file({dev_, ino_});
    if (::getpid() == creator_) unlink_if_same(path_, dev_, ino_);
  }
}

void MappedFile::advise_random(size_t offset) const {
  if (!data_) return;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t start = (offset + page - 1) / page * page;
  if (start < size_) ::madvise(data_ + start, size_ - start, MADV_RANDOM);
}

}  // namespace replaykit
