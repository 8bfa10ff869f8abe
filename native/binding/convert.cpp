#include "convert.h"

#include <cstring>

#include "error.h"

namespace replaykit_node {

using replaykit::ErrorKind;
using replaykit::fail;

namespace {

const char* array_name(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "TypedArray";
  }
}

// A name among `names` (indexed by the enum's value), or Error(Range) listing them.
template <size_t N>
size_t index_of_name(Napi::Value v, const char* const (&names)[N], const char* what) {
  if (v.IsString()) {
    const std::string s = v.As<Napi::String>().Utf8Value();
    for (size_t i = 0; i < N; ++i)
      if (s == names[i]) return i;
  }
  std::string list;
  for (size_t i = 0; i < N; ++i) list += (i ? ", '" : "'") + std::string(names[i]) + "'";
  fail(ErrorKind::Range, std::string(what) + " must be one of " + list);
}

constexpr const char* kDtypeNames[] = {"float32", "float64", "int32", "int64", "uint8", "bool"};  // Dtype order
constexpr const char* kEvictionNames[] = {"fifo", "lowest-priority"};                             // Eviction order
constexpr const char* kStorageNames[] = {"memory", "mmap", "tiered"};                             // StorageType order
static_assert(sizeof kDtypeNames / sizeof *kDtypeNames == replaykit::kDtypeCount, "a name per dtype");

}  // namespace

napi_typedarray_type array_type_of(Dtype d) {
  switch (d) {
    case Dtype::Float32: return napi_float32_array;
    case Dtype::Float64: return napi_float64_array;
    case Dtype::Int32: return napi_int32_array;
    case Dtype::Int64: return napi_bigint64_array;
    case Dtype::Uint8:
    case Dtype::Bool: return napi_uint8_array;
  }
  return napi_uint8_array;
}

void* typed_data_any(Napi::Env env, Napi::Value v, napi_typedarray_type type, size_t* length, const What& what) {
  napi_typedarray_type got;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, v, &got, length, &data, nullptr, nullptr) != napi_ok) {
    // Not a typed array: clear the pending state the failed call may leave, then say so.
    napi_value ignored;
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(env, &ignored);
    fail(ErrorKind::Dtype, what.str() + ": expected " + array_name(type));
  }
  if (got != type) fail(ErrorKind::Dtype, what.str() + ": expected " + array_name(type) + ", got " + array_name(got));
  if (data == nullptr && *length != 0) fail(ErrorKind::State, what.str() + ": its ArrayBuffer is detached");
  return data;
}

void* typed_data(Napi::Env env, Napi::Value v, napi_typedarray_type type, size_t length, const What& what) {
  size_t got_length = 0;
  void* data = typed_data_any(env, v, type, &got_length, what);
  if (got_length != length)
    fail(ErrorKind::Shape, what.str() + ": expected length " + std::to_string(length) + ", got " + std::to_string(got_length));
  return data;
}

uint64_t to_count(Napi::Value v, const char* what) {
  if (!v.IsNumber()) fail(ErrorKind::Range, std::string(what) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 9007199254740992.0 && std::floor(d) == d))
    fail(ErrorKind::Range, std::string(what) + " must be a non-negative integer");
  return static_cast<uint64_t>(d);
}

double to_double(Napi::Value v, const char* what) {
  if (!v.IsNumber()) fail(ErrorKind::Range, std::string(what) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool to_bool(Napi::Value v, const char* what) {
  if (!v.IsBoolean()) fail(ErrorKind::Range, std::string(what) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string to_string(Napi::Value v, const char* what) {
  if (!v.IsString()) fail(ErrorKind::Range, std::string(what) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

Dtype dtype_from(Napi::Value v) {
  try {
    return static_cast<Dtype>(index_of_name(v, kDtypeNames, "dtype"));
  } catch (const replaykit::Error& e) {
    fail(ErrorKind::Dtype, e.what());
  }
}

Eviction eviction_from(Napi::Value v) { return static_cast<Eviction>(index_of_name(v, kEvictionNames, "eviction")); }

const char* eviction_name(Eviction e) { return kEvictionNames[static_cast<int>(e)]; }

StorageType storage_type_from(Napi::Value v) {
  return static_cast<StorageType>(index_of_name(v, kStorageNames, "storage.type"));
}

void keys_from_js(Napi::Env env, Napi::Value v, std::vector<uint64_t>* out, const char* what) {
  size_t n = 0;
  const double* keys = static_cast<const double*>(typed_data_any(env, v, napi_float64_array, &n, what));
  out->resize(n);
  for (size_t i = 0; i < n; ++i) (*out)[i] = key_from_js(keys[i]);
}

void keys_to_js(const uint64_t* keys, uint64_t n, double* out) {
  for (uint64_t i = 0; i < n; ++i) out[i] = key_to_js(keys[i]);
}

}  // namespace replaykit_node
