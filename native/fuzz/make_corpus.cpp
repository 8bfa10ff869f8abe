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
      const auto bytes = encode_archive(b, meta);
      const std::string path = dir + "/seed-" + std::to_string(made++) + ".rkb";
      FILE* f = std::fopen(path.c_str(), "wb");
      if (!f) return 1;
      std::fwrite(bytes.data(), 1, bytes.size(), f);
      std::fclose(f);
    }
  }
  std::printf("wrote %d seed archives to %s\n", made, dir.c_str());
  return 0;
}
