// Writes valid archives of several kinds into a directory, as the fuzzer's seed corpus.
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "archive.h"
#include "buffer.h"

using namespace replaykit;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus-dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  int made = 0;
  // The next seed file of the corpus (seed-0.rkb, seed-1.rkb, ...); false when it cannot be written.
  auto write_seed = [&](const std::vector<uint8_t>& bytes) {
    const std::string path = dir + "/seed-" + std::to_string(made++) + ".rkb";
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) return false;
    const bool whole = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    return std::fclose(f) == 0 && whole;
  };
  for (int kind = 0; kind < 3; ++kind) {
    for (uint64_t n : {0ull, 3ull, 11ull}) {
      Schema schema({make_field("obs", Dtype::Float32, {3}), make_field("a", Dtype::Int64, {}),
                     make_field("done", Dtype::Bool, {}), make_field("img", Dtype::Uint8, {2, 2})});
      std::optional<PrioritizedOptions> per;
      if (kind > 0) {
        PrioritizedOptions o;
        o.eviction = kind == 2 ? Eviction::LowestPriority : Eviction::Fifo;
        per = o;
      }
      ReplayBuffer b(std::make_unique<MemoryStorage>(schema, 8), per);
      std::vector<float> obs(3 * n, 1.5f);
      std::vector<int64_t> a(n, 7);
      std::vector<uint8_t> done(n, 1), img(4 * n, 9);
      std::vector<double> pr(n, 2.0);
      const void* cols[4] = {obs.data(), a.data(), done.data(), img.data()};
      if (n) b.push(cols, n, per ? pr.data() : nullptr);
      ArchiveMeta meta;
      meta.rng_state[0] = 12345;
      meta.seed = 7;
      if (n == 3) {  // an epoch in progress over the 3 items
        meta.has_epoch = true;
        meta.epoch.n_epochs = 2;
        meta.epoch.epoch = 1;
        meta.epoch.cursor = 1;
        meta.epoch.batch_size = 2;
        meta.epoch.flags = kEpochIterator | kEpochShuffle | kEpochHasKeys;
        meta.epoch_keys = {2, 0, 1};
      } else if (n == 11) {  // random batches
        meta.has_epoch = true;
        meta.epoch.random_batch_size = 4;
      }
      if (n > 0) {  // a rate limiter: MinSize for the uniform kind, a ratio for the others
        RateLimiter rl(kind == 0 ? RateLimiter::min_size(2) : RateLimiter::sample_to_insert_ratio(1.5, 3, 4));
        rl.on_insert(n);
        rl.on_sample(2);
        meta.has_rate_limiter = true;
        meta.rate_limiter = rate_limiter_record(rl);
      }
      if (!write_seed(encode_archive(b, meta))) return 1;
    }
  }
  // Observations stored once (a Derived section), stacked 2 frames and not, uniform and with
  // lowest-priority eviction: 11 rows on 2 env streams into 8 slots (cut episodes, kept frames).
  for (uint32_t frames : {1u, 2u}) {
    for (int kind = 0; kind < 2; ++kind) {
      const std::vector<uint64_t> shape = frames > 1 ? std::vector<uint64_t>{2, 2, 2} : std::vector<uint64_t>{2, 2};
      DerivedOptions d;
      d.user = Schema({make_field("obs", Dtype::Uint8, shape), make_field("nextObs", Dtype::Uint8, shape),
                       make_field("terminated", Dtype::Bool, {}), make_field("truncated", Dtype::Bool, {})});
      d.obs = 0;
      d.next = 1;
      d.frames = frames;
      EpisodeOptions e;
      e.terminated = 2;
      e.truncated = 3;
      std::optional<PrioritizedOptions> per;
      if (kind == 1) {
        PrioritizedOptions o;
        o.eviction = Eviction::LowestPriority;
        per = o;
      }
      ReplayBuffer b(std::make_unique<MemoryStorage>(stored_schema(d), 8), per, e, d);
      const uint64_t n = 11, row = 4 * frames;
      std::vector<uint8_t> obs(n * row), next(n * row), term(n, 0), trunc(n, 0);
      std::vector<uint32_t> envs(n);
      for (uint64_t r = 0; r < n; ++r) {
        for (uint64_t i = 0; i < row; ++i) {
          obs[r * row + i] = uint8_t(r * 16 + i);
          next[r * row + i] = uint8_t(r * 16 + i + 1);
        }
        envs[r] = uint32_t(r % 2);
        term[r] = r == 4;
      }
      std::vector<double> pr(n);
      for (uint64_t r = 0; r < n; ++r) pr[r] = 1.0 + double(r % 3);
      const void* cols[4] = {obs.data(), next.data(), term.data(), trunc.data()};
      b.push(cols, n, per ? pr.data() : nullptr, envs.data());
      ArchiveMeta meta;
      meta.rng_state[0] = 12345;
      meta.seed = 7;
      if (!write_seed(encode_archive(b, meta))) return 1;
    }
  }
  std::printf("wrote %d seed archives to %s\n", made, dir.c_str());
  return 0;
}
