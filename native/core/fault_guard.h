// replaykit core: survives SIGBUS on mapped files that someone else truncates.
//
// A file mapped with mmap faults with SIGBUS when a page beyond the file's current end is
// touched: another process truncated it (`cp new.rkb ckpt.rkb` truncates in place), or
// the disk failed. By default that kills the process. Every mapping replaykit makes is
// registered here; a process-wide SIGBUS handler, for a fault inside a registered range,
// maps anonymous zero pages over the rest of that range (from the faulting page to its
// end), marks the range damaged and returns: the faulting instruction runs again and
// reads zeros (a write goes to the anonymous page, never to the file). Whoever owns the
// mapping checks `damaged()` after touching it and turns the damage into an error:
// storage into Error(Storage) for this and every later operation, archives into
// Error(Archive). A fault outside every registered range is passed to the handler that
// was installed before ours (or, if there was none, kills the process as it would have).
//
// The handler is installed once, on the first registration, and never removed. It is
// async-signal-safe: the registry is a fixed array of atomics (no allocation, no lock),
// read with a per-slot sequence number so a slot reused concurrently is never misread,
// and the zero pages are mapped with the raw mmap system call.
//
// Limits: a library that later installs its own SIGBUS handler without chaining to ours
// takes this protection away; a fault in the kernel (a read() or write() syscall on a
// truncated mapping) is an EFAULT, not a signal, and is the caller's to handle.
#pragma once
#include <cstddef>

namespace replaykit {
namespace fault_guard {

// Registers [begin, begin + bytes) mapped with protection `prot` (PROT_* flags, used for
// the zero pages). Returns the slot, or -1 when every slot (65,536, more than the
// kernel's default limit of mappings per process) is taken.
int watch(void* begin, size_t bytes, int prot);
// Forgets the slot. Call it before munmap, so that a later unrelated mapping at the same
// address is never mistaken for ours.
void unwatch(int slot);
// Whether a fault has been repaired with zeros in the slot's range since watch().
bool damaged(int slot);

}  // namespace fault_guard
}  // namespace replaykit
