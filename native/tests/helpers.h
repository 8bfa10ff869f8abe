// Helpers shared by the core's tests.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include "buffer.h"
#include "error.h"

namespace rk_test {
using namespace replaykit;

// A schema of id (float64 scalar), obs (float32 x3) and done (bool): obs encodes the id.
inline Schema small_schema() {
  return Schema({make_field("id", Dtype::Float64, {}), make_field("obs", Dtype::Float32, {3}),
                 make_field("done", Dtype::Bool, {})});
}

inline std::unique_ptr<ReplayBuffer> make_buffer(uint64_t capacity,
                                                 std::optional<PrioritizedOptions> per = std::nullopt) {
  return std::make_unique<ReplayBuffer>(std::make_unique<MemoryStorage>(small_schema(), capacity), per);
}

// Rows whose every field encodes the row's id.
struct Rows {
  std::vector<double> id;
  std::vector<float> obs;
  std::vector<uint8_t> done;
  const void* cols[3];
  Rows(double first_id, uint64_t n) {
    for (uint64_t r = 0; r < n; ++r) {
      const double v = first_id + double(r);
      id.push_back(v);
      for (int k = 0; k < 3; ++k) obs.push_back(float(v) * 10 + float(k));
      done.push_back(uint8_t(uint64_t(v) % 3));  // 0, 1, 2: bool storage normalises 2 to 1
    }
    cols[0] = id.data();
    cols[1] = obs.data();
    cols[2] = done.data();
  }
};

struct Batch {
  std::vector<double> id;
  std::vector<float> obs;
  std::vector<uint8_t> done;
  std::vector<uint64_t> keys;
  std::vector<float> weights;
  void* outs[3];
  explicit Batch(uint64_t n) : id(n), obs(3 * n), done(n), keys(n), weights(n) {
    outs[0] = id.data();
    outs[1] = obs.data();
    outs[2] = done.data();
  }
  // Every field of row i names the same item.
  bool consistent(uint64_t i) const {
    for (int k = 0; k < 3; ++k)
      if (obs[3 * i + k] != float(id[i]) * 10 + float(k)) return false;
    return done[i] == (uint64_t(id[i]) % 3 != 0 ? 1 : 0);
  }
};

inline std::vector<uint32_t> words(uint64_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::vector<uint32_t> w(2 * n);
  for (auto& x : w) x = g();
  return w;
}

// `rounds` batches of `per_round` items, concatenated.
inline Batch sample_rounds(ReplayBuffer& b, uint64_t per_round, uint64_t rounds, uint32_t seed,
                           double beta = 0.4) {
  Batch all(per_round * rounds), one(per_round);
  for (uint64_t r = 0; r < rounds; ++r) {
    auto w = words(per_round, seed + uint32_t(r));
    b.sample(per_round, w.data(), one.outs, one.keys.data(), one.weights.data(), beta);
    for (uint64_t i = 0; i < per_round; ++i) {
      const uint64_t j = r * per_round + i;
      all.id[j] = one.id[i];
      for (int k = 0; k < 3; ++k) all.obs[3 * j + k] = one.obs[3 * i + k];
      all.done[j] = one.done[i];
      all.keys[j] = one.keys[i];
      all.weights[j] = one.weights[i];
    }
  }
  return all;
}

inline std::vector<uint8_t> state_of(const ReplayBuffer& b) {
  // A fingerprint of everything observable: length, keys, priorities and data of each slot.
  std::vector<uint8_t> out;
  auto put = [&out](const void* p, size_t n) {
    auto* c = static_cast<const uint8_t*>(p);
    out.insert(out.end(), c, c + n);
  };
  uint64_t len = b.length();
  put(&len, 8);
  double tp = b.total_priority(), mp = b.max_priority();
  put(&tp, 8);
  put(&mp, 8);
  for (uint64_t s = 0; s < len; ++s) {
    uint64_t k = b.writer().key(s);
    double p = b.priority_of_slot(s);
    put(&k, 8);
    put(&p, 8);
    for (size_t f = 0; f < b.schema().size(); ++f) {
      std::vector<uint8_t> row(b.schema()[f].row_bytes);
      b.storage().gather(f, &s, 1, row.data());
      put(row.data(), row.size());
    }
  }
  return out;
}

}  // namespace rk_test
