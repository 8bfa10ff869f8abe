// replaykit core: files mapped into memory. Two kinds, with different contracts.
//
// STORAGE FILES (MappedFile::create_storage: mmap and tiered storage), read-write and
// private to one buffer. The file contract:
// - Created: a NEW file at the path (O_CREAT | O_EXCL | O_NOFOLLOW, mode 0600), reserved
//   to its full size up front (posix_fallocate: a full disk is an error now, not a
//   SIGBUS later), mapped, and its descriptor closed at once: an open buffer holds no
//   file descriptor, only the mapping.
// - Taken over: an existing file only if it is a replaykit storage file (its header's
//   magic "RKSTORE\0" and a known version say so) left by a process that is gone:
//   owned by the same user, a regular file with one link, reached without following a
//   symbolic link, not locked (the owner's mapping holds an flock on the file until it
//   is unmapped or the owner dies), and whose owner record (pid, the process's start
//   time, pid namespace, boot id, host name) names no live process. Version 1 files
//   (no owner record) are taken over when the lock is free.
// - Refused, with Error(Storage) and the file left exactly as it was (not opened for
//   writing unless it passed the checks above, never truncated, written or deleted, even
//   when construction fails later): a symbolic link (dangling or not), a directory, a
//   FIFO, a device or socket, any file that is not a replaykit storage file, and a
//   storage file whose owner is alive or cannot be judged (another pid namespace or
//   another host; a recycled pid does not count as alive: its start time differs). A
//   second buffer on the same file in the same process is refused too.
// - Deleted: when the MappedFile is destroyed (the buffer is closed or collected), and at
//   process exit for those still open, but only if the path still names the file that
//   was created or taken over (same device and inode): a file put at that path since is
//   someone else's and is left alone. Nothing is deleted by a forked child.
//
// ARCHIVES (MappedFile::open_readonly): opened O_RDONLY | O_NONBLOCK (a FIFO never blocks
// the open), anything but a regular file refused at once with Error(Archive), mapped
// read-only, descriptor closed at once. Never locked, never written, never deleted.
//
// TRUNCATION FROM OUTSIDE. Every mapping is registered with the fault guard
// (fault_guard.h): if another process truncates the file (`cp new.rkb ckpt.rkb`
// truncates in place), touching a page beyond its new end no longer kills the process
// with SIGBUS; the page reads zeros and damaged() turns true for good. The owner of the
// mapping checks damaged() after touching it and refuses: a storage says Error(Storage)
// for that operation and every later one; archive readers say Error(Archive).
//
// Liveness and races, stated honestly. The creator or claimer takes an exclusive flock
// on the file before writing its owner record; the lock belongs to the open file
// description, which the mapping keeps after the descriptor is closed, so it lasts until
// munmap or the owner's death (the kernel drops it then). A takeover needs that lock
// (one try, no wait), so two processes taking over the same dead file at once cannot
// both win, and a live owner is refused even where its record could not say so. The
// owner record is the second check, for where the lock is not shared (a network file
// system seen from two hosts) and for naming the owner. Between O_EXCL creation and the
// lock (microseconds) another process sees a file without a valid header and refuses it;
// a process killed exactly there leaves an empty file that nothing takes over (delete it
// by hand). Delete-by-identity compares lstat(path) with the file's device and inode and
// then unlinks: a file swapped in between those two calls (microseconds) would be
// deleted; POSIX offers no unlink-if-inode call.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace replaykit {

// Who is using a storage file. Liveness: the same host and boot, the same pid
// namespace, and a process with this pid whose start time (clock ticks after boot, from
// /proc/<pid>/stat) is this one.
struct StorageOwner {
  uint32_t pid;
  uint32_t reserved;
  uint64_t start_ticks;    // 0: unknown (no /proc); liveness is then kill(pid, 0)
  uint64_t pid_namespace;  // the inode of /proc/self/ns/pid; 0: unknown
  char boot_id[40];        // /proc/sys/kernel/random/boot_id, NUL-terminated
  char host[72];           // uname nodename, NUL-terminated (truncated)
};
static_assert(sizeof(StorageOwner) == 136, "fixed layout");

// The first bytes of every storage file (little-endian), written and read by MappedFile;
// the storage writes the rest of the header page after them.
struct StorageFilePreamble {
  char magic[8];          // "RKSTORE\0"
  uint32_t version;       // kStorageFileVersion
  uint32_t header_bytes;  // kStorageHeaderBytes: where the rows start
  StorageOwner owner;
};
static_assert(sizeof(StorageFilePreamble) == 152, "fixed layout");
constexpr uint32_t kStorageFileVersion = 2;
constexpr size_t kStorageHeaderBytes = 4096;

class MappedFile {
 public:
  // A storage file of `size` bytes (>= kStorageHeaderBytes) at `path`: created, or a
  // dead process's storage file taken over (see the contract above). The preamble is
  // written with this process as owner; the rest of the file is zero.
  // Throws Error(Storage) for a refused path or a file-system fault.
  static std::unique_ptr<MappedFile> create_storage(const std::string& path, size_t size);

  // An archive (or any regular file) mapped read-only; an empty file has no mapping and
  // size 0. Throws Error(Archive) for a missing or unreadable path or one that is not a
  // regular file. For zero-copy views held by JS, keep the MappedFile alive as long as
  // they are (e.g. a shared_ptr in the external ArrayBuffer's finalizer hint): the
  // fault guard protects reads through those views too, and they read zeros after an
  // outside truncation instead of crashing.
  static std::unique_ptr<MappedFile> open_readonly(const std::string& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  bool writable() const { return writable_; }
  dev_t device() const { return dev_; }
  ino_t inode() const { return ino_; }
  // Whether someone else truncated (or the disk failed under) the file since it was
  // mapped: the pages past the fault read zeros from then on. Never goes back to false.
  bool damaged() const;
  // Hints that reads are random (no read-ahead) from `offset` on.
  void advise_random(size_t offset) const;
  // Unmaps now (a storage file is also deleted, by identity): data() is null after.
  // Views over the mapping must be gone (detached) first. The destructor does the same.
  void close();

 private:
  MappedFile() = default;

  std::string path_;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool writable_ = false;  // a storage file: deleted when closed
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  pid_t creator_ = 0;      // the process that created or took over the file
  int guard_slot_ = -1;    // fault_guard slot, -1 when not registered
  bool damaged_ = false;   // damaged() as it was when the slot was given back
};

}  // namespace replaykit
