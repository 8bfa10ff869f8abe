// The file contract of storage files and archive mappings (file.h) and the SIGBUS fault
// guard (fault_guard.h): what is created, taken over, refused and deleted; no descriptor
// kept; an outside truncation becomes an error, not a dead process.
#include <dirent.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <sstream>
#include <string>
#include <thread>

#include "fault_guard.h"
#include "file.h"
#include "helpers.h"

using namespace rk_test;

Storage* g_unclosed[2];

namespace {

// A fresh directory per test case, removed with everything in it at the end.
struct TempDir {
  std::string path;
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string t = std::string(base ? base : "/tmp") + "/replaykit-files-XXXXXX";
    path = ::mkdtemp(&t[0]) ? t : "";
    REQUIRE(!path.empty());
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

bool exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}
std::string read_all(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}
void write_all(const std::string& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}
// Kind and message of the Error fn throws; kind -1 when it throws none.
std::pair<int, std::string> error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return {int(e.kind()), e.what()};
  }
  return {-1, ""};
}
int kind_of(const std::function<void()>& fn) { return error_of(fn).first; }

// Everything that tells one state of a path from another: type, size, mode, inode,
// modification time and (for a regular file) every byte.
struct Snapshot {
  struct stat st;
  std::string bytes;
  bool operator==(const Snapshot& o) const {
    return st.st_mode == o.st.st_mode && st.st_size == o.st.st_size && st.st_ino == o.st.st_ino &&
           st.st_nlink == o.st.st_nlink && st.st_mtim.tv_sec == o.st.st_mtim.tv_sec &&
           st.st_mtim.tv_nsec == o.st.st_mtim.tv_nsec && bytes == o.bytes;
  }
};
Snapshot snapshot(const std::string& p) {
  Snapshot s;
  REQUIRE(::lstat(p.c_str(), &s.st) == 0);
  if (S_ISREG(s.st.st_mode)) s.bytes = read_all(p);
  return s;
}

size_t open_descriptors() {
  size_t n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  REQUIRE(d != nullptr);
  while (const dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n;
}

// A storage file's first page as this version writes it, with `owner` as owner.
std::string storage_header(const StorageOwner& owner, uint32_t version = kStorageFileVersion) {
  std::string page(kStorageHeaderBytes, '\0');
  StorageFilePreamble pre;
  std::memset(&pre, 0, sizeof pre);
  std::memcpy(pre.magic, "RKSTORE", 8);
  pre.version = version;
  pre.header_bytes = kStorageHeaderBytes;
  pre.owner = owner;
  std::memcpy(&page[0], &pre, sizeof pre);
  return page + std::string(8192, 'x');  // and some rows
}
// The owner record a storage made by this process carries (read back from a real file).
StorageOwner my_owner_record(const TempDir& dir) {
  const std::string p = dir / "probe";
  auto f = MappedFile::create_storage(p, kStorageHeaderBytes);
  StorageFilePreamble pre;
  std::memcpy(&pre, f->data(), sizeof pre);
  return pre.owner;
}

using Make = std::function<void(const std::string&)>;
const std::pair<std::string, Make> kKinds[] = {
    {"mmap", [](const std::string& p) { MmapStorage s(small_schema(), 10, p); }},
    {"tiered", [](const std::string& p) { TieredStorage s(small_schema(), 10, 3, p); }},
};

// Forks a child that runs `body` and then waits to be killed; returns its pid once
// `body` is done (it writes one byte to a pipe).
pid_t child_holding(const std::function<void()>& body) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  std::fflush(nullptr);  // or the child would print the test log written so far again
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    body();
    char c = 1;
    if (::write(fds[1], &c, 1) != 1) ::_exit(3);
    for (;;) ::pause();
  }
  ::close(fds[1]);
  char c = 0;
  REQUIRE(::read(fds[0], &c, 1) == 1);
  ::close(fds[0]);
  return pid;
}
void kill_only(pid_t pid) {  // a zombie until reaped
  ::kill(pid, SIGKILL);
  siginfo_t info;
  ::waitid(P_PID, pid_t(pid), &info, WEXITED | WNOWAIT);
}
void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

}  // namespace

TEST_CASE("a storage path that exists and is not a dead replaykit process's storage file is refused, untouched") {
  TempDir dir;
  for (const auto& [name, make] : kKinds) {
    CAPTURE(name);
    // A user's file, a replaykit-looking file of another kind, an empty file.
    for (const std::string& content : {std::string("precious data\n"), std::string(100000, 'y'), std::string(),
                                       std::string("RKSTORE")}) {
      const std::string p = dir / "regular";
      write_all(p, content);
      ::chmod(p.c_str(), 0644);
      const Snapshot before = snapshot(p);
      const auto [kind, message] = error_of([&] { make(p); });
      CHECK(kind == int(ErrorKind::Storage));
      CHECK(message.find("not a replaykit storage file") != std::string::npos);
      CHECK(snapshot(p) == before);
    }
    // A symbolic link to a file: neither the link nor its target changes.
    const std::string target = dir / "target";
    write_all(target, "the link's target\n");
    const std::string link = dir / "link";
    ::unlink(link.c_str());
    REQUIRE(::symlink(target.c_str(), link.c_str()) == 0);
    const Snapshot target_before = snapshot(target), link_before = snapshot(link);
    const auto [kind, message] = error_of([&] { make(link); });
    CHECK(kind == int(ErrorKind::Storage));
    CHECK(message.find("symbolic link") != std::string::npos);
    CHECK(snapshot(target) == target_before);
    CHECK(snapshot(link) == link_before);
    // A symbolic link to a dead owner's storage file is refused too: takeover never follows links.
    StorageOwner dead;
    std::memset(&dead, 0, sizeof dead);
    dead.pid = 0;
    write_all(target, storage_header(dead));
    const Snapshot storage_before = snapshot(target);
    CHECK(kind_of([&] { make(link); }) == int(ErrorKind::Storage));
    CHECK(snapshot(target) == storage_before);
    // A dangling link: its target is not created.
    const std::string dangling = dir / "dangling";
    ::unlink(dangling.c_str());
    REQUIRE(::symlink((dir / "nowhere").c_str(), dangling.c_str()) == 0);
    CHECK(kind_of([&] { make(dangling); }) == int(ErrorKind::Storage));
    CHECK_FALSE(exists(dir / "nowhere"));
    CHECK(exists(dangling));
    // A directory, a FIFO (the refusal does not wait for a writer), a device.
    const std::string sub = dir / "sub";
    ::mkdir(sub.c_str(), 0755);
    write_all(sub + "/inside", "x");
    CHECK(kind_of([&] { make(sub); }) == int(ErrorKind::Storage));
    CHECK(read_all(sub + "/inside") == "x");
    const std::string fifo = dir / "fifo";
    ::unlink(fifo.c_str());
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    const auto [fifo_kind, fifo_message] = error_of([&] { make(fifo); });
    CHECK(fifo_kind == int(ErrorKind::Storage));
    CHECK(fifo_message.find("not a regular file") != std::string::npos);
    CHECK(exists(fifo));
    CHECK(kind_of([&] { make("/dev/null"); }) == int(ErrorKind::Storage));
  }
}

TEST_CASE("a dead process's storage file is taken over and a live owner's is refused") {
  TempDir dir;
  const std::string p = dir / "store.rkb";
  for (const auto& [name, make] : kKinds) {
    CAPTURE(name);
    // A child makes a storage file and is killed -9: the file stays, with a dead owner.
    const pid_t holder = child_holding([&] {
      auto* leaked = new MmapStorage(small_schema(), 100, p);  // the child never frees it
      (void)leaked;
    });
    REQUIRE(exists(p));
    // Alive: refused, the file unchanged.
    const Snapshot alive = snapshot(p);
    const auto [kind, message] = error_of([&] { make(p); });
    CHECK(kind == int(ErrorKind::Storage));
    CAPTURE(message);
    CHECK(message.find("in use by another buffer (process " + std::to_string(holder) + ")") != std::string::npos);
    CHECK(snapshot(p) == alive);
    // Killed but not yet reaped by its parent (a zombie): gone all the same.
    kill_only(holder);
    REQUIRE(exists(p));
    // Dead: taken over (and deleted when that buffer ends).
    {
      auto s = std::make_unique<TieredStorage>(small_schema(), 10, 3, p);
      StorageFilePreamble pre;
      const std::string head = read_all(p).substr(0, sizeof pre);
      std::memcpy(&pre, head.data(), sizeof pre);
      CHECK(pre.owner.pid == uint32_t(::getpid()));
      struct stat st;
      REQUIRE(::stat(p.c_str(), &st) == 0);
      CHECK(size_t(st.st_size) == s->file_bytes());  // resized to the new buffer's needs
    }
    CHECK_FALSE(exists(p));
    kill_and_reap(holder);
  }
}

TEST_CASE("owner records: a recycled pid, another boot, another host or namespace, old versions") {
  TempDir dir;
  const std::string p = dir / "store.rkb";
  const StorageOwner me = my_owner_record(dir);
  REQUIRE(me.start_ticks != 0);  // /proc is there in the test environment
  auto takes_over = [&](const StorageOwner& owner, uint32_t version = kStorageFileVersion) {
    write_all(p, storage_header(owner, version));
    const Snapshot before = snapshot(p);
    const int kind = kind_of([&] { MmapStorage s(small_schema(), 10, p); });
    if (kind == -1) {
      CHECK_FALSE(exists(p));
      return true;
    }
    CHECK(kind == int(ErrorKind::Storage));
    CHECK(snapshot(p) == before);
    ::unlink(p.c_str());
    return false;
  };
  // This very process, recorded faithfully but with no buffer on the file (as a copy of a
  // live file would be): its owner is alive, so it is refused.
  CHECK_FALSE(takes_over(me));
  // Our pid with another start time: a recycled pid, the owner is gone.
  StorageOwner recycled = me;
  recycled.start_ticks = me.start_ticks - 1;
  CHECK(takes_over(recycled));
  // Another boot of this host: gone.
  StorageOwner rebooted = me;
  rebooted.boot_id[0] = rebooted.boot_id[0] == 'a' ? 'b' : 'a';
  CHECK(takes_over(rebooted));
  // A pid that no process has (pid_max is at most 2^22).
  StorageOwner vanished = me;
  vanished.pid = (1u << 22) + 5;
  CHECK(takes_over(vanished));
  // Another host, another pid namespace: cannot be judged, refused.
  StorageOwner remote = me;
  std::strcpy(remote.host, "another-host");
  CHECK_FALSE(takes_over(remote));
  StorageOwner container = me;
  container.pid_namespace = me.pid_namespace + 1;
  CHECK_FALSE(takes_over(container));
  // A future version: refused.
  CHECK_FALSE(takes_over(vanished, kStorageFileVersion + 1));
  // Version 1 (no owner record; the owner held an flock for life): taken over when the
  // lock is free, refused while a process holds it.
  StorageOwner none;
  std::memset(&none, 0, sizeof none);
  CHECK(takes_over(none, 1));
  write_all(p, storage_header(none, 1));
  const pid_t holder = child_holding([&] {
    const int fd = ::open(p.c_str(), O_RDWR);
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0) ::_exit(4);
  });
  const Snapshot locked = snapshot(p);
  CHECK(kind_of([&] { MmapStorage s(small_schema(), 10, p); }) == int(ErrorKind::Storage));
  CHECK(snapshot(p) == locked);
  kill_and_reap(holder);
  { MmapStorage s(small_schema(), 10, p); }
  CHECK_FALSE(exists(p));
  // A dead owner's file with a second hard link is not taken over (the other name would
  // change with it).
  write_all(p, storage_header(vanished));
  REQUIRE(::link(p.c_str(), (dir / "other-name").c_str()) == 0);
  const Snapshot linked = snapshot(p);
  CHECK(kind_of([&] { MmapStorage s(small_schema(), 10, p); }) == int(ErrorKind::Storage));
  CHECK(snapshot(p) == linked);
  ::unlink((dir / "other-name").c_str());
  // Owned by another user (only root can make one here).
  if (::geteuid() == 0) {
    REQUIRE(::chown(p.c_str(), 65534, 65534) == 0);
    const Snapshot foreign = snapshot(p);
    CHECK(kind_of([&] { MmapStorage s(small_schema(), 10, p); }) == int(ErrorKind::Storage));
    CHECK(snapshot(p) == foreign);
  }
}

TEST_CASE("a second buffer on the same file in this process is refused, under any name") {
  TempDir dir;
  const std::string p = dir / "store.rkb";
  MmapStorage first(small_schema(), 10, p);
  const std::string via_link = dir / "hard-link";
  REQUIRE(::link(p.c_str(), via_link.c_str()) == 0);
  CHECK(kind_of([&] { MmapStorage second(small_schema(), 10, p); }) == int(ErrorKind::Storage));
  CHECK(kind_of([&] { TieredStorage second(small_schema(), 10, 2, via_link); }) == int(ErrorKind::Storage));
  CHECK(exists(p));
  CHECK(exists(via_link));
}

TEST_CASE("closing deletes the storage file only if the path still names the file it opened") {
  TempDir dir;
  const std::string p = dir / "store.rkb";
  // The first buffer's file is deleted by someone, and a second buffer makes a new one at
  // the same path: closing the first must not delete the second's live file.
  auto first = std::make_unique<MmapStorage>(small_schema(), 10, p);
  REQUIRE(::unlink(p.c_str()) == 0);
  auto second = std::make_unique<TieredStorage>(small_schema(), 10, 3, p);
  first.reset();
  CHECK(exists(p));
  second.reset();
  CHECK_FALSE(exists(p));
  // The file was moved away and a user's file put in its place: left alone.
  auto third = std::make_unique<MmapStorage>(small_schema(), 10, p);
  REQUIRE(::rename(p.c_str(), (dir / "moved").c_str()) == 0);
  write_all(p, "a user's file");
  third.reset();
  CHECK(read_all(p) == "a user's file");

  // The same at process exit (the registry of files still open): a child opens a buffer,
  // its file is replaced, and the child exits without closing it.
  const std::string q = dir / "exit.rkb";
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Never freed (held by a global, so the leak checker sees them as reachable): the
    // exit cleanup handles them.
    g_unclosed[0] = new MmapStorage(small_schema(), 10, q);
    g_unclosed[1] = new MmapStorage(small_schema(), 10, dir / "exit-kept.rkb");
    if (::unlink(q.c_str()) != 0) ::_exit(5);
    write_all(q, "replaced");
    std::exit(0);  // runs the atexit cleanup
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(read_all(q) == "replaced");
  CHECK_FALSE(exists(dir / "exit-kept.rkb"));  // the child's own file, still its own, is deleted
}

TEST_CASE("an open storage keeps no file descriptor") {
  TempDir dir;
  const size_t before = open_descriptors();
  std::vector<std::unique_ptr<Storage>> open;
  for (int i = 0; i < 40; ++i) {
    open.push_back(std::make_unique<MmapStorage>(small_schema(), 10, dir / ("m" + std::to_string(i))));
    open.push_back(std::make_unique<TieredStorage>(small_schema(), 10, 3, dir / ("t" + std::to_string(i))));
  }
  CHECK(open_descriptors() == before);
  auto archive = MappedFile::open_readonly(dir / "m0");
  CHECK(open_descriptors() == before);
  open.clear();
  CHECK_FALSE(exists(dir / "m0"));
  CHECK(archive->size() > 0);  // still mapped after its file was deleted
}

TEST_CASE("a storage file truncated by another process: Error(Storage) from then on, and the process lives") {
  TempDir dir;
  for (int tiered = 0; tiered < 2; ++tiered) {
    CAPTURE(tiered);
    const std::string p = dir / "store.rkb";
    std::unique_ptr<Storage> storage;
    if (tiered)
      storage = std::make_unique<TieredStorage>(small_schema(), 64, 4, p);
    else
      storage = std::make_unique<MmapStorage>(small_schema(), 64, p);
    const Storage* s = storage.get();
    ReplayBuffer b(std::move(storage), std::nullopt);
    Rows rows(0, 40);
    b.push(rows.cols, 40, nullptr);  // tiered: 36 of them in the file
    Batch out(40);
    std::vector<uint64_t> keys(40);
    b.keys_in_order(keys.data());
    b.read(keys.data(), 40, out.outs);
    CHECK_FALSE(s->damaged());
    // What `cp new.rkb store.rkb` does first.
    REQUIRE(::truncate(p.c_str(), 0) == 0);
    const auto [kind, message] = error_of([&] { b.read(keys.data(), 40, out.outs); });
    CHECK(kind == int(ErrorKind::Storage));
    CHECK(message == "the storage file '" + p +
                         "' was truncated or damaged by another process; the buffer can no longer be used");
    CHECK(s->damaged());
    // Every later operation that touches the storage refuses.
    CHECK(kind_of([&] { b.read(keys.data(), 1, out.outs); }) == int(ErrorKind::Storage));
    CHECK(kind_of([&] { b.push(rows.cols, 1, nullptr); }) == int(ErrorKind::Storage));
    std::vector<uint32_t> words(8, 7);
    CHECK(kind_of([&] { b.sample(4, words.data(), out.outs, keys.data(), nullptr, 0); }) == int(ErrorKind::Storage));
    CHECK(kind_of([&] { b.clear(); }) == int(ErrorKind::Storage));
    CHECK(kind_of([&] { s->check_intact(); }) == int(ErrorKind::Storage));
  }
}

TEST_CASE("a write into a truncated storage file is refused, and nothing reaches the file") {
  TempDir dir;
  const std::string p = dir / "store.rkb";
  for (int tiered = 0; tiered < 2; ++tiered) {
    CAPTURE(tiered);
    std::unique_ptr<Storage> s;
    if (tiered)
      s = std::make_unique<TieredStorage>(small_schema(), 1000, 2, p);
    else
      s = std::make_unique<MmapStorage>(small_schema(), 1000, p);
    REQUIRE(::truncate(p.c_str(), 0) == 0);
    Rows rows(0, 500);
    CHECK(kind_of([&] { s->write(0, 500, rows.cols, 0); }) == int(ErrorKind::Storage));
    CHECK(s->damaged());
    CHECK(kind_of([&] { s->write(0, 1, rows.cols, 0); }) == int(ErrorKind::Storage));  // refused before touching
    struct stat st;
    REQUIRE(::stat(p.c_str(), &st) == 0);
    CHECK(st.st_size == 0);  // the writes went to zero pages, not back into the file
    s.reset();
    CHECK_FALSE(exists(p));  // still deleted when closed
  }
}

TEST_CASE("read-only mappings: FIFOs and other non-files are refused at once, files are never deleted, truncation reads zeros") {
  TempDir dir;
  // A FIFO: Error(Archive) without waiting for a writer. If the open did block, the test
  // unblocks it by opening the FIFO for writing, and fails.
  const std::string fifo = dir / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto pending = std::async(std::launch::async, [&] { return error_of([&] { MappedFile::open_readonly(fifo); }); });
  if (pending.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    const int w = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    FAIL("open_readonly blocked on a FIFO");
    if (w >= 0) ::close(w);
  }
  const auto [kind, message] = pending.get();
  CHECK(kind == int(ErrorKind::Archive));
  CHECK(message == "the archive path '" + fifo + "' is not a regular file");
  CHECK(kind_of([&] { MappedFile::open_readonly(dir.path); }) == int(ErrorKind::Archive));
  CHECK(kind_of([&] { MappedFile::open_readonly("/dev/null"); }) == int(ErrorKind::Archive));
  CHECK(kind_of([&] { MappedFile::open_readonly(dir / "missing"); }) == int(ErrorKind::Archive));
  CHECK(kind_of([&] { MappedFile::open_readonly(""); }) == int(ErrorKind::Archive));

  // An empty file: no mapping.
  write_all(dir / "empty", "");
  auto empty = MappedFile::open_readonly(dir / "empty");
  CHECK(empty->size() == 0);
  CHECK(empty->data() == nullptr);

  // A file of three pages, through a symlink (archives may be reached through one).
  const std::string p = dir / "archive.rkb";
  std::string bytes(3 * 4096 + 100, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = char('a' + i % 26);
  write_all(p, bytes);
  REQUIRE(::symlink(p.c_str(), (dir / "alias").c_str()) == 0);
  auto m = MappedFile::open_readonly(dir / "alias");
  REQUIRE(m->size() == bytes.size());
  CHECK(std::memcmp(m->data(), bytes.data(), bytes.size()) == 0);
  CHECK_FALSE(m->writable());
  // Truncated from outside to one page: the rest reads zeros, damaged() says so.
  REQUIRE(::truncate(p.c_str(), 4096) == 0);
  CHECK(std::memcmp(m->data(), bytes.data(), 4096) == 0);
  CHECK_FALSE(m->damaged());
  volatile const uint8_t* far = m->data() + 2 * 4096 + 10;
  CHECK(*far == 0);
  CHECK(m->damaged());
  CHECK(m->data()[3 * 4096 + 99] == 0);
  m.reset();
  CHECK(exists(p));  // an archive is never deleted
  CHECK(read_all(p) == bytes.substr(0, 4096));
}

TEST_CASE("the fault guard passes on faults that are not in a registered range") {
  // A child maps a file itself (not through MappedFile), truncates it and touches the
  // mapping: the guard must not swallow that fault; the child dies as it would without
  // the guard (by SIGBUS, or through the sanitizer's own handler when it has one).
  TempDir dir;
  const std::string p = dir / "plain";
  write_all(p, std::string(3 * 4096, 'z'));
  auto guarded = MappedFile::open_readonly(p);  // the guard is installed
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int fd = ::open(p.c_str(), O_RDWR);
    void* q = ::mmap(nullptr, 3 * 4096, PROT_READ, MAP_SHARED, fd, 0);
    if (q == MAP_FAILED || ::ftruncate(fd, 0) != 0) ::_exit(6);
    volatile const uint8_t* x = static_cast<const uint8_t*>(q) + 4096;
    const uint8_t v = *x;
    ::_exit(v == 0 ? 0 : 7);  // reached only if the fault was swallowed
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  const bool died_of_sigbus = WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS;
  const bool sanitizer_report = WIFEXITED(status) && WEXITSTATUS(status) != 0 && WEXITSTATUS(status) < 6;
  CHECK((died_of_sigbus || sanitizer_report));
  // And a SIGBUS sent with kill() is not a fault: passed on too.
  std::fflush(nullptr);
  const pid_t sent = ::fork();
  REQUIRE(sent >= 0);
  if (sent == 0) {
    ::raise(SIGBUS);
    ::_exit(0);
  }
  REQUIRE(::waitpid(sent, &status, 0) == sent);
  CHECK_FALSE((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}
