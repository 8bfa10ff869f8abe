// replaykit binding: values crossing the boundary. Typed arrays are viewed in place (checked
// only as far as memory safety needs: type, length, not detached); enums cross by name
// ('float32', 'mmap', 'lowest-priority', ...); item keys are converted between JS numbers and
// the core's uint64 here and nowhere else. Failures throw replaykit::Error, which the guard
// turns into the registered JS classes.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "buffer.h"
#include "schema.h"

namespace replaykit_node {

using replaykit::Dtype;
using replaykit::Eviction;

// ---- typed arrays ----

napi_typedarray_type array_type_of(Dtype d);

// What an argument is, for error messages: a literal, or "field '<name>'". Built into a
// string only when a message is needed, so a call that passes pays no allocation.
struct What {
  const char* text;
  const std::string* field = nullptr;
  What(const char* t) : text(t) {}  // NOLINT: implicit from a literal on purpose
  What(const char* t, const std::string& f) : text(t), field(&f) {}
  std::string str() const { return field ? std::string(text) + " '" + *field + "'" : std::string(text); }
};

// The data of a typed array of `type` and exactly `length` elements (Error(Dtype) / (Shape) /
// (State) for another type, another length, a detached buffer). One napi_get_typedarray_info
// call: it gives the type, the length and the data pointer, which matters on the hot path.
void* typed_data(Napi::Env env, Napi::Value v, napi_typedarray_type type, size_t length, const What& what);
// The same for any length, which it returns in *length.
void* typed_data_any(Napi::Env env, Napi::Value v, napi_typedarray_type type, size_t* length, const What& what);

// ---- numbers, strings ----

// A non-negative integer a JS number holds exactly (<= 2^53); Error(Range) otherwise.
uint64_t to_count(Napi::Value v, const char* what);
double to_double(Napi::Value v, const char* what);
bool to_bool(Napi::Value v, const char* what);
std::string to_string(Napi::Value v, const char* what);

// ---- enums by name ----

Dtype dtype_from(Napi::Value v);  // 'float32' | 'float64' | 'int32' | 'int64' | 'uint8' | 'bool'
Eviction eviction_from(Napi::Value v);  // 'fifo' | 'lowest-priority'
const char* eviction_name(Eviction e);
enum class StorageType { Memory, Mmap, Tiered };
StorageType storage_type_from(Napi::Value v);  // 'memory' | 'mmap' | 'tiered'

// ---- item keys: the one place they change representation ----

// A JS number as a key: an integer in [0, 2^53] is itself; anything else names no item.
inline uint64_t key_from_js(double d) {
  return d >= 0 && d <= 9007199254740992.0 && std::floor(d) == d ? static_cast<uint64_t>(d) : replaykit::kNotAKey;
}
// Keys stay below 2^53 (writer.h), so a JS number holds each exactly.
inline double key_to_js(uint64_t k) { return static_cast<double>(k); }

// A Float64Array of keys (or positions) as uint64s, into *out.
void keys_from_js(Napi::Env env, Napi::Value v, std::vector<uint64_t>* out, const char* what);
void keys_to_js(const uint64_t* keys, uint64_t n, double* out);

}  // namespace replaykit_node
