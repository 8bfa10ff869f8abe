#include <doctest/doctest.h>

#include "error.h"
#include "schema.h"
#include "storage.h"

using namespace replaykit;

TEST_CASE("fields know their sizes") {
  Field f = make_field("obs", Dtype::Uint8, {4, 84, 84});
  CHECK(f.elems == 4 * 84 * 84);
  CHECK(f.row_bytes == 4 * 84 * 84);
  Field s = make_field("reward", Dtype::Float64, {});
  CHECK(s.elems == 1);
  CHECK(s.row_bytes == 8);
  CHECK(dtype_size(Dtype::Int64) == 8);
  CHECK(std::string(dtype_name(Dtype::Bool)) == "bool");
  Dtype d;
  CHECK_FALSE(dtype_from_code(6, &d));
  CHECK(dtype_from_code(4, &d));
  CHECK(d == Dtype::Uint8);
}

TEST_CASE("bad schemas are refused with a shape error") {
  auto kind_of = [](auto&& fn) {
    try {
      fn();
    } catch (const Error& e) {
      return int(e.kind());
    }
    return -1;
  };
  CHECK(kind_of([] { make_field("x", Dtype::Float32, {0}); }) == int(ErrorKind::Shape));
  CHECK(kind_of([] { make_field("x", Dtype::Float64, {1ull << 31, 1ull << 31}); }) == int(ErrorKind::Shape));
  CHECK(kind_of([] { Schema(std::vector<Field>{}); }) == int(ErrorKind::Shape));
  CHECK(kind_of([] { Schema({make_field("a", Dtype::Float32, {}), make_field("a", Dtype::Int32, {})}); }) ==
        int(ErrorKind::Shape));
  CHECK(kind_of([] { Schema({make_field("", Dtype::Float32, {})}); }) == int(ErrorKind::Shape));
}

TEST_CASE("memory storage refuses an absurd capacity without allocating") {
  Schema s({make_field("obs", Dtype::Float32, {1024})});
  CHECK_THROWS_AS(MemoryStorage(s, uint64_t(1) << 62), Error);
}

TEST_CASE("storage round-trips every dtype and normalises bool") {
  Schema s({make_field("b", Dtype::Bool, {2}), make_field("i", Dtype::Int64, {}), make_field("f", Dtype::Float32, {5})});
  MemoryStorage st(s, 4);
  uint8_t b[2] = {7, 0};
  int64_t i = -(int64_t(1) << 60);
  float f[5] = {1.5f, -2.f, 3.f, 0.f, 1e30f};
  const void* cols[3] = {b, &i, f};
  st.write(2, 1, cols, 0);
  uint64_t slot = 2;
  uint8_t b2[2];
  int64_t i2;
  float f2[5];
  st.gather(0, &slot, 1, b2);
  st.gather(1, &slot, 1, &i2);
  st.gather(2, &slot, 1, f2);
  CHECK(b2[0] == 1);
  CHECK(b2[1] == 0);
  CHECK(i2 == i);
  for (int k = 0; k < 5; ++k) CHECK(f2[k] == f[k]);
}
