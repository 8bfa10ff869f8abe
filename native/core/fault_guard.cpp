#include "fault_guard.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>

namespace replaykit {
namespace fault_guard {

namespace {

// One registered range. `seq` is odd while the slot is live; begin/end/prot change only
// while it is even, so the handler reads them as a seqlock reader: seq, fields, seq again.
struct Slot {
  std::atomic<uint64_t> seq{0};
  std::atomic<uintptr_t> begin{0};
  std::atomic<uintptr_t> end{0};  // rounded up to a page: the mapping's last page is ours
  std::atomic<int> prot{0};
  std::atomic<int> damaged{0};
};
static_assert(std::atomic<uint64_t>::is_always_lock_free && std::atomic<uintptr_t>::is_always_lock_free &&
                  std::atomic<int>::is_always_lock_free,
              "the signal handler needs lock-free atomics");

constexpr size_t kSlots = 65536;  // static storage: untouched slots cost no memory
Slot g_slots[kSlots];
std::atomic<size_t> g_high{0};  // slots [0, g_high) have been used; the handler looks no further
std::mutex g_mutex;             // serialises watch/unwatch (never taken in the handler)
std::once_flag g_install_once;
struct sigaction g_previous;    // written once, before our handler can run
uintptr_t g_page = 4096;

void* map_zeros(uintptr_t at, size_t bytes, int prot) {
  // The raw system call: no libc wrapper, no sanitizer interceptor, nothing that could
  // take a lock or allocate inside a signal handler.
#if defined(__linux__) && defined(SYS_mmap)
  const long r = ::syscall(SYS_mmap, at, bytes, prot, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0L);
  return r == -1 ? MAP_FAILED : reinterpret_cast<void*>(r);
#else
  return ::mmap(reinterpret_cast<void*>(at), bytes, prot, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
#endif
}

// A fault that is not ours: whatever would have happened without us.
void chain(int sig, siginfo_t* info, void* context) {
  const struct sigaction& p = g_previous;
  if (p.sa_flags & SA_SIGINFO) {
    if (p.sa_sigaction) return p.sa_sigaction(sig, info, context);
  } else if (p.sa_handler != SIG_DFL && p.sa_handler != SIG_IGN) {
    return p.sa_handler(sig);
  }
  // The default action (SIGBUS cannot usefully be ignored: the instruction would fault
  // again forever): restore it and re-raise; the signal is blocked until we return, then
  // ends the process as it would have.
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(sig, &dfl, nullptr);
  ::raise(sig);
}

void on_sigbus(int sig, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  // si_code > 0: sent by the kernel for a fault, so si_addr is the faulting address
  // (a SIGBUS sent with kill() or raise() is not a fault and is passed on).
  if (info && info->si_code > 0) {
    const uintptr_t addr = reinterpret_cast<uintptr_t>(info->si_addr);
    const size_t high = g_high.load(std::memory_order_acquire);
    for (size_t i = 0; i < high; ++i) {
      Slot& s = g_slots[i];
      const uint64_t seq = s.seq.load(std::memory_order_acquire);
      if (!(seq & 1)) continue;
      const uintptr_t begin = s.begin.load(std::memory_order_relaxed);
      const uintptr_t end = s.end.load(std::memory_order_relaxed);
      const int prot = s.prot.load(std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_acquire);
      if (s.seq.load(std::memory_order_relaxed) != seq) continue;  // reused meanwhile: not this one
      if (addr < begin || addr >= end) continue;
      // Every page from the faulting one on is beyond the file's end right now (the end is
      // one number), so zeros are what a read there should see; one signal, not one per page.
      const uintptr_t page = addr & ~(g_page - 1);
      if (map_zeros(page, end - page, prot) == MAP_FAILED) break;
      s.damaged.store(1, std::memory_order_release);
      errno = saved_errno;
      return;  // the faulting instruction runs again, on the zero page
    }
  }
  errno = saved_errno;
  chain(sig, info, context);
}

void install() {
  const long page = ::sysconf(_SC_PAGESIZE);
  if (page > 0) g_page = static_cast<uintptr_t>(page);
  struct sigaction sa = {};
  sa.sa_sigaction = on_sigbus;
  sigemptyset(&sa.sa_mask);
  // SA_ONSTACK: a thread that set up an alternate stack (for stack overflows) gets the
  // handler there. No SA_NODEFER: the handler touches no mapping, so it cannot fault itself.
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  ::sigaction(SIGBUS, &sa, &g_previous);
}

}  // namespace

int watch(void* begin, size_t bytes, int prot) {
  std::call_once(g_install_once, install);
  const uintptr_t b = reinterpret_cast<uintptr_t>(begin);
  const uintptr_t e = (b + bytes + g_page - 1) & ~(g_page - 1);
  std::lock_guard<std::mutex> lock(g_mutex);
  for (size_t i = 0; i < kSlots; ++i) {
    Slot& s = g_slots[i];
    const uint64_t seq = s.seq.load(std::memory_order_relaxed);
    if (seq & 1) continue;
    // Seqlock writer: the slot is free (seq even); the fence keeps the field stores after
    // the store that made it free, as seen by a handler reading it on another thread.
    std::atomic_thread_fence(std::memory_order_release);
    s.begin.store(b, std::memory_order_relaxed);
    s.end.store(e, std::memory_order_relaxed);
    s.prot.store(prot, std::memory_order_relaxed);
    s.damaged.store(0, std::memory_order_relaxed);
    s.seq.store(seq + 1, std::memory_order_release);  // live
    if (i >= g_high.load(std::memory_order_relaxed)) g_high.store(i + 1, std::memory_order_release);
    return static_cast<int>(i);
  }
  return -1;
}

void unwatch(int slot) {
  if (slot < 0 || static_cast<size_t>(slot) >= kSlots) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  Slot& s = g_slots[slot];
  const uint64_t seq = s.seq.load(std::memory_order_relaxed);
  if (seq & 1) s.seq.store(seq + 1, std::memory_order_release);  // free
}

bool damaged(int slot) {
  if (slot < 0 || static_cast<size_t>(slot) >= kSlots) return false;
  return g_slots[slot].damaged.load(std::memory_order_acquire) != 0;
}

}  // namespace fault_guard
}  // namespace replaykit
