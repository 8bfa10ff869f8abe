// replaykit bench: the native roofline, and the core measured without Node.
//
// A small server driven by bench/run.ts over stdin/stdout, so that the runner can
// interleave timed runs of replaykit, of the plain TypeScript reference and of these
// references in one process run. One command per line; each answers one JSON line.
//
//   setup-push CAP ROWS         MuJoCo columns (68, 24, 4, 68, 1, 1 bytes a row) of CAP rows,
//                               and ROWS rows of source; every page touched
//   memcpy-batch ITERS          ITERS batches of ROWS rows: one memcpy per column into the ring
//   memcpy-row ITERS            ITERS single rows: one memcpy per column
//   setup-gather CAP ROWBYTES   CAP records of ROWBYTES bytes each, row-major, touched
//   gather N ITERS              ITERS batches: N random records (Lemire on xoshiro256+) copied out
//   gather-in N ITERS WITHIN    the same among the first WITHIN records only (how the memory
//                               hierarchy alone prices a larger buffer: 10M against 1M)
//   setup-gather-col CAP        the MuJoCo columns of CAP rows (replaykit's own layout)
//   gather-col N ITERS          ITERS batches: N random rows gathered column by column
//   setup-tree LEAVES CAP       a plain binary sum-tree: one float64 array, 1-based heap,
//                               LEAVES (a power of two) leaves, the first CAP random in [0.01, 1)
//   tree-sample N ITERS         ITERS stratified samples of N (descents only)
//   tree-step N ITERS           ITERS PER steps: stratified sample of N, then set those N leaves
//   tree-sample-gather N ITERS  ITERS stratified samples of N, then a gather of those N records
//                               (needs setup-tree and setup-gather)
//   setup-core CAP PER          replaykit's core ReplayBuffer (MuJoCo schema), filled; PER 0/1
//                               (prioritized: every priority randomised)
//   core-sample N ITERS         ITERS core samples of N (no Node, no facade)
//   core-step N ITERS           ITERS core PER steps: sample N, update_priorities of those N
//   setup-seq BYTES CHUNK       BYTES of source, touched, and a CHUNK-byte destination
//   seq-read ITERS              ITERS sequential passes over the source: memcpy CHUNK bytes at a
//                               time into the (reused) destination (the epochs' roofline)
//   free                        frees everything
//   quit
//
// Timed commands answer {"ns": nanoseconds per iteration, "iters": ITERS}.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "buffer.h"
#include "memory.h"
#include "storage.h"

namespace {

// xoshiro256+ (Blackman & Vigna), seeded by SplitMix64.
struct Rng {
  uint64_t s[4];
  explicit Rng(uint64_t seed) {
    for (auto& w : s) {
      seed += 0x9e3779b97f4a7c15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      w = z ^ (z >> 31);
    }
  }
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t next() {
    const uint64_t r = s[0] + s[3];
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
  }
  uint64_t below(uint64_t n) { return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64); }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
};

Rng rng(12345);
volatile uint64_t sink;

// Blocks as replaykit's core allocates its own (native/core/memory.cpp): from 2 MiB up,
// 2 MiB aligned and advised for transparent huge pages, so that the roofline's random
// reads get the same TLB reach as replaykit's.
uint8_t* alloc(size_t bytes) {
  void* p = replaykit::allocate_block(bytes);
  if (!p) {
    std::fprintf(stderr, "roofline: cannot allocate %zu bytes\n", bytes);
    std::exit(2);
  }
  std::memset(p, 0x5a, bytes);  // touch every page
  return static_cast<uint8_t*>(p);
}

struct Block {
  uint8_t* p = nullptr;
  size_t bytes = 0;
  Block() = default;
  explicit Block(size_t n) : p(alloc(n)), bytes(n) {}
  Block(Block&& o) noexcept : p(o.p), bytes(o.bytes) { o.p = nullptr; }
  Block& operator=(Block&& o) noexcept {
    std::swap(p, o.p);
    std::swap(bytes, o.bytes);
    return *this;
  }
  ~Block() { replaykit::free_block(p); }
};

const size_t kMujoco[6] = {68, 24, 4, 68, 1, 1};

// --- pushes: memcpy ---------------------------------------------------------
struct PushState {
  uint64_t cap = 0, rows = 0, cursor = 0;
  std::vector<Block> ring, src;
} push;

void setup_push(uint64_t cap, uint64_t rows) {
  push = PushState();
  push.cap = cap;
  push.rows = rows;
  for (size_t b : kMujoco) {
    push.ring.emplace_back(cap * b);
    push.src.emplace_back(rows * b);
  }
}

void memcpy_batch() {  // ring wrap handled as the buffer does: two copies
  const uint64_t head = std::min(push.rows, push.cap - push.cursor);
  for (size_t f = 0; f < 6; ++f) {
    const size_t b = kMujoco[f];
    std::memcpy(push.ring[f].p + push.cursor * b, push.src[f].p, head * b);
    if (head < push.rows) std::memcpy(push.ring[f].p, push.src[f].p + head * b, (push.rows - head) * b);
  }
  push.cursor = (push.cursor + push.rows) % push.cap;
}

void memcpy_row() {
  for (size_t f = 0; f < 6; ++f) {
    const size_t b = kMujoco[f];
    std::memcpy(push.ring[f].p + push.cursor * b, push.src[f].p, b);
  }
  if (++push.cursor == push.cap) push.cursor = 0;
}

// --- gathers ----------------------------------------------------------------
struct GatherState {
  uint64_t cap = 0;
  size_t row_bytes = 0;
  Block records;
  std::vector<Block> cols;
  Block out;
  std::vector<uint64_t> idx;
} gat, gcol;

void setup_gather(uint64_t cap, size_t row_bytes) {
  gat = GatherState();
  gat.cap = cap;
  gat.row_bytes = row_bytes;
  gat.records = Block(cap * row_bytes);
}

void setup_gather_col(uint64_t cap) {
  gcol = GatherState();
  gcol.cap = cap;
  for (size_t b : kMujoco) gcol.cols.emplace_back(cap * b);
}

void gather(uint64_t n, uint64_t within) {
  if (gat.out.bytes < n * gat.row_bytes) gat.out = Block(n * gat.row_bytes);
  uint8_t* o = gat.out.p;
  const uint8_t* base = gat.records.p;
  const size_t rb = gat.row_bytes;
  for (uint64_t i = 0; i < n; ++i) std::memcpy(o + i * rb, base + rng.below(within) * rb, rb);
}

void gather_col(uint64_t n) {
  if (gcol.out.bytes < n * 166) gcol.out = Block(n * 166);
  gcol.idx.resize(n);
  for (uint64_t i = 0; i < n; ++i) gcol.idx[i] = rng.below(gcol.cap);
  uint8_t* o = gcol.out.p;
  for (size_t f = 0; f < 6; ++f) {
    const size_t b = kMujoco[f];
    const uint8_t* base = gcol.cols[f].p;
    for (uint64_t i = 0; i < n; ++i) std::memcpy(o + i * b, base + gcol.idx[i] * b, b);
    o += n * b;
  }
}

// Copies the records at idx[0 .. n) out, row-major.
void gather_these(const std::vector<uint64_t>& idx, uint64_t n) {
  if (gat.out.bytes < n * gat.row_bytes) gat.out = Block(n * gat.row_bytes);
  uint8_t* o = gat.out.p;
  const size_t rb = gat.row_bytes;
  for (uint64_t i = 0; i < n; ++i) std::memcpy(o + i * rb, gat.records.p + (idx[i] % gat.cap) * rb, rb);
}

// --- sequential read -------------------------------------------------------
struct SeqState {
  Block src, dst;
} seq;

void setup_seq(uint64_t bytes, uint64_t chunk) {
  seq = SeqState();
  seq.src = Block(bytes);
  seq.dst = Block(chunk);
}

void seq_read() {
  const size_t chunk = seq.dst.bytes;
  for (size_t at = 0; at < seq.src.bytes; at += chunk)
    std::memcpy(seq.dst.p, seq.src.p + at, std::min(chunk, seq.src.bytes - at));
  sink = sink + seq.dst.p[0];
}

// --- the plain binary sum-tree ----------------------------------------------
struct Tree {
  uint64_t leaves = 0;
  Block block;            // allocated as replaykit's trees are (huge pages from 2 MiB)
  double* t = nullptr;    // 1-based heap; leaves at [leaves, 2 leaves)
  std::vector<uint64_t> picked;
  void set(uint64_t i, double v) {
    uint64_t n = leaves + i;
    t[n] = v;
    for (n >>= 1; n >= 1; n >>= 1) t[n] = t[2 * n] + t[2 * n + 1];
  }
  uint64_t find(double mass) const {
    uint64_t n = 1;
    while (n < leaves) {
      const double l = t[2 * n];
      if (mass < l) {
        n = 2 * n;
      } else {
        mass -= l;
        n = 2 * n + 1;
      }
    }
    return n - leaves;
  }
  void sample(uint64_t n) {
    picked.resize(n);
    const double seg = t[1] / static_cast<double>(n);
    for (uint64_t i = 0; i < n; ++i) picked[i] = find((static_cast<double>(i) + rng.uniform()) * seg);
  }
} tree;

void setup_tree(uint64_t leaves, uint64_t cap) {
  tree = Tree();
  tree.leaves = leaves;
  tree.block = Block(2 * leaves * sizeof(double));
  tree.t = reinterpret_cast<double*>(tree.block.p);
  std::fill(tree.t, tree.t + 2 * leaves, 0.0);
  for (uint64_t i = 0; i < cap && i < leaves; ++i) tree.t[leaves + i] = 0.01 + 0.99 * rng.uniform();
  for (uint64_t n = leaves - 1; n >= 1; --n) tree.t[n] = tree.t[2 * n] + tree.t[2 * n + 1];
}

void tree_sample_gather(uint64_t n) {
  tree.sample(n);
  gather_these(tree.picked, n);
}

void tree_step(uint64_t n) {
  tree.sample(n);
  for (uint64_t i = 0; i < n; ++i) tree.set(tree.picked[i], 0.01 + 0.99 * rng.uniform());
}

// --- replaykit's core, without Node -----------------------------------------
struct CoreState {
  std::unique_ptr<replaykit::ReplayBuffer> buf;
  std::vector<std::vector<uint8_t>> outs;
  std::vector<void*> out_ptrs;
  std::vector<uint64_t> keys;
  std::vector<uint32_t> words;
  std::vector<float> weights;
  std::vector<double> deltas;
} core;

void setup_core(uint64_t cap, bool per) {
  using namespace replaykit;
  core = CoreState();
  Schema schema({make_field("obs", Dtype::Float32, {17}), make_field("action", Dtype::Float32, {6}),
                 make_field("reward", Dtype::Float32, {}), make_field("nextObs", Dtype::Float32, {17}),
                 make_field("terminated", Dtype::Bool, {}), make_field("truncated", Dtype::Bool, {})});
  std::optional<PrioritizedOptions> po;
  if (per) po = PrioritizedOptions{0.6, Eviction::Fifo};
  core.buf = std::make_unique<ReplayBuffer>(std::make_unique<MemoryStorage>(schema, cap), po);
  const uint64_t chunk = 1000;
  std::vector<std::vector<uint8_t>> cols;
  std::vector<const void*> cp;
  for (size_t b : kMujoco) cols.emplace_back(chunk * b, 1);
  for (auto& c : cols) cp.push_back(c.data());
  for (uint64_t done = 0; done < cap; done += chunk) core.buf->push(cp.data(), std::min(chunk, cap - done), nullptr);
  if (per) {
    std::vector<uint64_t> keys(chunk);
    std::vector<double> d(chunk);
    for (uint64_t start = 0; start < cap; start += chunk) {
      const uint64_t m = std::min(chunk, cap - start);
      for (uint64_t i = 0; i < m; ++i) {
        keys[i] = start + i;
        d[i] = rng.uniform();
      }
      core.buf->update_priorities(keys.data(), m, d.data());  // epsilon: the buffer's, 1e-6
    }
  }
}

void core_prepare(uint64_t n) {
  if (core.keys.size() != n) {
    core.outs.clear();
    core.out_ptrs.clear();
    for (size_t b : kMujoco) core.outs.emplace_back(n * b);
    for (auto& o : core.outs) core.out_ptrs.push_back(o.data());
    core.keys.resize(n);
    core.weights.resize(n);
    core.deltas.resize(n);
    core.words.resize(2 * n);
  }
  for (auto& w : core.words) w = static_cast<uint32_t>(rng.next() >> 32);
}

void core_sample(uint64_t n) {
  core_prepare(n);
  core.buf->sample(n, core.words.data(), core.out_ptrs.data(), core.keys.data(),
                   core.buf->prioritized() ? core.weights.data() : nullptr, 0.4);
}

void core_step(uint64_t n) {
  core_sample(n);
  for (auto& d : core.deltas) d = rng.uniform();
  core.buf->update_priorities(core.keys.data(), n, core.deltas.data());
}

template <typename F>
double timed(uint64_t iters, F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < iters; ++i) f();
  const auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(iters);
}

}  // namespace

int main() {
  std::ios::sync_with_stdio(false);
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd;
    uint64_t a = 0, b = 0, c = 0;
    in >> cmd >> a >> b >> c;
    double ns = -1;
    try {
      if (cmd == "quit") break;
      if (cmd == "setup-push") setup_push(a, b);
      else if (cmd == "memcpy-batch") ns = timed(a, memcpy_batch);
      else if (cmd == "memcpy-row") ns = timed(a, memcpy_row);
      else if (cmd == "setup-gather") setup_gather(a, b);
      else if (cmd == "gather") ns = timed(b, [&] { gather(a, gat.cap); });
      else if (cmd == "gather-in") ns = timed(b, [&] { gather(a, std::min(c, gat.cap)); });
      else if (cmd == "setup-gather-col") setup_gather_col(a);
      else if (cmd == "gather-col") ns = timed(b, [&] { gather_col(a); });
      else if (cmd == "setup-seq") setup_seq(a, b);
      else if (cmd == "seq-read") ns = timed(a, seq_read);
      else if (cmd == "setup-tree") setup_tree(a, b);
      else if (cmd == "tree-sample") ns = timed(b, [&] { tree.sample(a); });
      else if (cmd == "tree-step") ns = timed(b, [&] { tree_step(a); });
      else if (cmd == "tree-sample-gather") ns = timed(b, [&] { tree_sample_gather(a); });
      else if (cmd == "setup-core") setup_core(a, b != 0);
      else if (cmd == "core-sample") ns = timed(b, [&] { core_sample(a); });
      else if (cmd == "core-step") ns = timed(b, [&] { core_step(a); });
      else if (cmd == "free") {
        push = PushState();
        gat = GatherState();
        gcol = GatherState();
        tree = Tree();
        core = CoreState();
        seq = SeqState();
      } else {
        std::cout << "{\"error\":\"unknown command: " << cmd << "\"}" << std::endl;
        continue;
      }
    } catch (const std::exception& e) {
      std::cout << "{\"error\":\"" << e.what() << "\"}" << std::endl;
      continue;
    }
    if (ns >= 0)
      std::cout << "{\"ns\":" << ns << ",\"iters\":" << (cmd.rfind("memcpy", 0) == 0 || cmd == "seq-read" ? a : b) << "}" << std::endl;
    else
      std::cout << "{\"ok\":true}" << std::endl;
  }
  return 0;
}
