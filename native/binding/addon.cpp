// replaykit's Node-API binding: a thin wrapper of the core's ReplayBuffer.
//
// Contract with lib/native.ts: whole columns cross the boundary once per call; the
// facade allocates the output typed arrays and passes them in; every error from
// the core becomes an instance of the JS error class registered for its kind.
#include <napi.h>

#include <cmath>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "buffer.h"
#include "error.h"
#include "random.h"

namespace {

using replaykit::Dtype;
using replaykit::ErrorKind;

constexpr int kErrorKinds = 6;

struct AddonData {
  Napi::FunctionReference errors[kErrorKinds];  // indexed by ErrorKind
};

Napi::Error make_error(Napi::Env env, ErrorKind kind, const std::string& message) {
  auto* data = env.GetInstanceData<AddonData>();
  const int k = static_cast<int>(kind);
  if (data && !data->errors[k].IsEmpty()) {
    Napi::Object err = data->errors[k].New({Napi::String::New(env, message)});
    return Napi::Error(env, err);
  }
  return Napi::Error::New(env, message);
}

[[noreturn]] void throw_kind(Napi::Env env, ErrorKind kind, const std::string& message) {
  throw make_error(env, kind, message);
}

// Runs `fn`, turning core errors into JS errors of the registered classes.
template <typename Fn>
auto guard(Napi::Env env, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const replaykit::Error& e) {
    throw make_error(env, e.kind(), e.what());
  } catch (const std::bad_alloc&) {
    throw make_error(env, ErrorKind::Range, "out of memory");
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("replaykit internal error: ") + e.what());
  }
}

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

// The data of a typed array of the expected type and length, or a dtype/shape error.
void* typed_data(Napi::Env env, Napi::Value v, napi_typedarray_type type, size_t length, const std::string& what) {
  if (!v.IsTypedArray()) throw_kind(env, ErrorKind::Dtype, what + ": expected " + array_name(type));
  Napi::TypedArray a = v.As<Napi::TypedArray>();
  if (a.TypedArrayType() != type)
    throw_kind(env, ErrorKind::Dtype,
               what + ": expected " + array_name(type) + ", got " + array_name(a.TypedArrayType()));
  if (a.ElementLength() != length)
    throw_kind(env, ErrorKind::Shape,
               what + ": expected length " + std::to_string(length) + ", got " + std::to_string(a.ElementLength()));
  return static_cast<uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset();
}

uint64_t to_count(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsNumber()) throw_kind(env, ErrorKind::Range, std::string(what) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 9007199254740992.0 && std::floor(d) == d))
    throw_kind(env, ErrorKind::Range, std::string(what) + " must be a non-negative integer");
  return static_cast<uint64_t>(d);
}

double to_double(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsNumber()) throw_kind(env, ErrorKind::Range, std::string(what) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

// Float64Array of item keys (or positions) -> uint64; a value that is not an integer in [0, 2^53]
// was never handed out.
void to_keys(Napi::Env env, Napi::Value v, std::vector<uint64_t>* keys, const char* what = "indices") {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw_kind(env, ErrorKind::Dtype, std::string(what) + ": expected Float64Array");
  Napi::Float64Array a = v.As<Napi::Float64Array>();
  const size_t n = a.ElementLength();
  keys->resize(n);
  for (size_t i = 0; i < n; ++i) {
    const double d = a[i];
    if (!(d >= 0 && d <= 9007199254740992.0 && std::floor(d) == d))
      throw_kind(env, ErrorKind::Range, std::string(what) + "[" + std::to_string(i) + "] = " + std::to_string(d) +
                                            " is not a non-negative integer");
    (*keys)[i] = static_cast<uint64_t>(d);
  }
}

class NativeBuffer : public Napi::ObjectWrap<NativeBuffer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeBuffer",
                       {
                           InstanceMethod<&NativeBuffer::Push>("push"),
                           InstanceMethod<&NativeBuffer::Sample>("sample"),
                           InstanceMethod<&NativeBuffer::UpdatePriorities>("updatePriorities"),
                           InstanceMethod<&NativeBuffer::Top>("top"),
                           InstanceMethod<&NativeBuffer::Read>("read"),
                           InstanceMethod<&NativeBuffer::KeysInOrder>("keysInOrder"),
                           InstanceMethod<&NativeBuffer::Shuffle>("shuffle"),
                           InstanceMethod<&NativeBuffer::ReadPositions>("readPositions"),
                           InstanceMethod<&NativeBuffer::ReadLive>("readLive"),
                           InstanceMethod<&NativeBuffer::Clear>("clear"),
                           InstanceMethod<&NativeBuffer::Close>("close"),
                           InstanceMethod<&NativeBuffer::Stats>("stats"),
                           InstanceAccessor<&NativeBuffer::Length>("length"),
                       });
  }

  // new NativeBuffer({ capacity, fields: [{ name, dtype, shape }], prioritized: { alpha, eviction } | null })
  explicit NativeBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeBuffer>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw_kind(env, ErrorKind::Shape, "NativeBuffer needs a spec object");
    Napi::Object spec = info[0].As<Napi::Object>();
    const uint64_t capacity = to_count(env, spec.Get("capacity"), "capacity");
    Napi::Value fv = spec.Get("fields");
    if (!fv.IsArray()) throw_kind(env, ErrorKind::Shape, "fields must be an array");
    Napi::Array fa = fv.As<Napi::Array>();
    std::vector<replaykit::Field> fields;
    for (uint32_t i = 0; i < fa.Length(); ++i) {
      Napi::Value ev = fa.Get(i);
      if (!ev.IsObject()) throw_kind(env, ErrorKind::Shape, "fields[" + std::to_string(i) + "] must be an object");
      Napi::Object fo = ev.As<Napi::Object>();
      Napi::Value name = fo.Get("name");
      if (!name.IsString()) throw_kind(env, ErrorKind::Shape, "field name must be a string");
      Dtype dtype;
      if (!replaykit::dtype_from_code(static_cast<int>(to_count(env, fo.Get("dtype"), "dtype")), &dtype))
        throw_kind(env, ErrorKind::Dtype, "unknown dtype code");
      Napi::Value sv = fo.Get("shape");
      if (!sv.IsArray()) throw_kind(env, ErrorKind::Shape, "field shape must be an array");
      Napi::Array sa = sv.As<Napi::Array>();
      std::vector<uint64_t> shape;
      for (uint32_t k = 0; k < sa.Length(); ++k) shape.push_back(to_count(env, sa.Get(k), "shape"));
      guard(env, [&] {
        fields.push_back(replaykit::make_field(name.As<Napi::String>().Utf8Value(), dtype, std::move(shape)));
      });
    }
    std::optional<replaykit::PrioritizedOptions> per;
    Napi::Value pv = spec.Get("prioritized");
    if (pv.IsObject()) {
      Napi::Object po = pv.As<Napi::Object>();
      replaykit::PrioritizedOptions o;
      o.alpha = to_double(env, po.Get("alpha"), "alpha");
      o.eviction = to_count(env, po.Get("eviction"), "eviction") == 1 ? replaykit::Eviction::LowestPriority
                                                                        : replaykit::Eviction::Fifo;
      per = o;
    }
    // storage: { type: 0 memory | 1 mmap | 2 tiered, path, hotCapacity }
    int storage_type = 0;
    std::string path;
    uint64_t hot = 0;
    Napi::Value sv = spec.Get("storage");
    if (sv.IsObject()) {
      Napi::Object so = sv.As<Napi::Object>();
      storage_type = static_cast<int>(to_count(env, so.Get("type"), "storage type"));
      if (storage_type != 0) {
        Napi::Value pv2 = so.Get("path");
        if (!pv2.IsString()) throw_kind(env, ErrorKind::Storage, "storage.path must be a string");
        path = pv2.As<Napi::String>().Utf8Value();
      }
      if (storage_type == 2) hot = to_count(env, so.Get("hotCapacity"), "hotCapacity");
    }
    guard(env, [&] {
      replaykit::Schema schema(std::move(fields));
      std::unique_ptr<replaykit::Storage> storage;
      if (storage_type == 1)
        storage = std::make_unique<replaykit::MmapStorage>(std::move(schema), capacity, path);
      else if (storage_type == 2)
        storage = std::make_unique<replaykit::TieredStorage>(std::move(schema), capacity, hot, path);
      else
        storage = std::make_unique<replaykit::MemoryStorage>(std::move(schema), capacity);
      buffer_ = std::make_unique<replaykit::ReplayBuffer>(std::move(storage), per);
    });
    accounted_ = static_cast<int64_t>(buffer_->storage().bytes() + 40 * capacity);
    Napi::MemoryManagement::AdjustExternalMemory(env, accounted_);
    // At environment teardown (a worker exiting, the process ending) free the buffer and
    // delete its files even if it was never closed or collected.
    napi_add_env_cleanup_hook(env, &NativeBuffer::CleanupHook, this);
    hooked_ = true;
  }

  ~NativeBuffer() override { Release(Env()); }

 private:
  replaykit::ReplayBuffer& live(Napi::Env env) {
    if (!buffer_) throw_kind(env, ErrorKind::State, "the buffer is closed");
    return *buffer_;
  }

  static void CleanupHook(void* self) {
    auto* b = static_cast<NativeBuffer*>(self);
    b->hooked_ = false;  // node removes a hook once it has run
    b->buffer_.reset();  // no JS calls at teardown
    b->accounted_ = 0;
  }

  void Release(Napi::Env env) {
    if (hooked_) {
      napi_remove_env_cleanup_hook(env, &NativeBuffer::CleanupHook, this);
      hooked_ = false;
    }
    if (!buffer_) return;
    buffer_.reset();
    if (accounted_) Napi::MemoryManagement::AdjustExternalMemory(env, -accounted_);
    accounted_ = 0;
  }

  // Validated pointers to one typed array per field, each of n rows; with allow_null,
  // a null entry skips its field (nullptr).
  std::vector<void*> columns(Napi::Env env, Napi::Value v, uint64_t n, const char* what, bool allow_null = false) {
    const replaykit::Schema& schema = live(env).schema();
    if (!v.IsArray()) throw_kind(env, ErrorKind::Shape, std::string(what) + " must be an array of typed arrays");
    Napi::Array a = v.As<Napi::Array>();
    if (a.Length() != schema.size())
      throw_kind(env, ErrorKind::Shape, std::string(what) + ": expected " + std::to_string(schema.size()) + " fields");
    std::vector<void*> out(schema.size());
    for (size_t f = 0; f < schema.size(); ++f) {
      const replaykit::Field& fd = schema[f];
      Napi::Value col = a.Get(static_cast<uint32_t>(f));
      if (allow_null && col.IsNull()) continue;
      out[f] = typed_data(env, col, array_type_of(fd.dtype), n * fd.elems, "field '" + fd.name + "'");
    }
    return out;
  }

  // push(columns, n, priorities?: Float64Array) -> key of the last row
  Napi::Value Push(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& b = live(env);
    const uint64_t n = to_count(env, info[1], "row count");
    std::vector<void*> cols = columns(env, info[0], n, "columns");
    const double* pr = nullptr;
    if (!info[2].IsUndefined() && !info[2].IsNull())
      pr = static_cast<const double*>(typed_data(env, info[2], napi_float64_array, n, "priorities"));
    std::vector<const void*> ccols(cols.begin(), cols.end());
    const uint64_t key = guard(env, [&] { return b.push(ccols.data(), n, pr); });
    return Napi::Number::New(env, static_cast<double>(key));
  }

  // sample(n, words: Uint32Array(2n), outs, keys: Float64Array(n), weights: Float32Array(n) | null, beta)
  Napi::Value Sample(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& b = live(env);
    const uint64_t n = to_count(env, info[0], "batch size");
    auto* words = static_cast<const uint32_t*>(typed_data(env, info[1], napi_uint32_array, 2 * n, "random words"));
    std::vector<void*> outs = columns(env, info[2], n, "out");
    auto* keys = static_cast<double*>(typed_data(env, info[3], napi_float64_array, n, "out.indices"));
    float* weights = nullptr;
    if (!info[4].IsUndefined() && !info[4].IsNull())
      weights = static_cast<float*>(typed_data(env, info[4], napi_float32_array, n, "out.weights"));
    const double beta = info[5].IsNumber() ? info[5].As<Napi::Number>().DoubleValue() : 0.0;
    keys_.resize(n);
    guard(env, [&] { b.sample(n, words, outs.data(), keys_.data(), weights, beta); });
    for (uint64_t i = 0; i < n; ++i) keys[i] = static_cast<double>(keys_[i]);
    return env.Undefined();
  }

  // updatePriorities(keys: Float64Array, deltas: Float32Array | Float64Array, epsilon) -> applied
  Napi::Value UpdatePriorities(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& b = live(env);
    to_keys(env, info[0], &keys_);
    const uint64_t n = keys_.size();
    const double epsilon = to_double(env, info[2], "epsilon");
    if (!info[1].IsTypedArray()) throw_kind(env, ErrorKind::Dtype, "tdErrors: expected Float32Array or Float64Array");
    const napi_typedarray_type t = info[1].As<Napi::TypedArray>().TypedArrayType();
    uint64_t applied;
    if (t == napi_float32_array) {
      auto* d = static_cast<const float*>(typed_data(env, info[1], t, n, "tdErrors"));
      applied = guard(env, [&] { return b.update_priorities(keys_.data(), n, d, epsilon); });
    } else {
      auto* d = static_cast<const double*>(typed_data(env, info[1], napi_float64_array, n, "tdErrors"));
      applied = guard(env, [&] { return b.update_priorities(keys_.data(), n, d, epsilon); });
    }
    return Napi::Number::New(env, static_cast<double>(applied));
  }

  // top(k, keys: Float64Array(k), priorities: Float64Array(k))
  Napi::Value Top(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& b = live(env);
    const uint64_t k = to_count(env, info[0], "k");
    auto* keys = static_cast<double*>(typed_data(env, info[1], napi_float64_array, k, "keys"));
    auto* pr = static_cast<double*>(typed_data(env, info[2], napi_float64_array, k, "priorities"));
    keys_.resize(k);
    guard(env, [&] { b.top(k, keys_.data(), pr); });
    for (uint64_t i = 0; i < k; ++i) keys[i] = static_cast<double>(keys_[i]);
    return env.Undefined();
  }

  // read(keys: Float64Array(n), outs)
  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& b = live(env);
    to_keys(env, info[0], &keys_);
    std::vector<void*> outs = columns(env, info[1], keys_.size(), "out");
    guard(env, [&] { b.read(keys_.data(), keys_.size(), outs.data()); });
    return env.Undefined();
  }

  // keysInOrder(out: Float64Array(length)): the keys of the stored items, oldest first
  Napi::Value KeysInOrder(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& b = live(env);
    const uint64_t n = b.length();
    auto* out = static_cast<double*>(typed_data(env, info[0], napi_float64_array, n, "keys"));
    keys_.resize(n);
    b.keys_in_order(keys_.data());
    for (uint64_t i = 0; i < n; ++i) out[i] = static_cast<double>(keys_[i]);
    return env.Undefined();
  }

  // shuffle(values: Float64Array(n), words: Uint32Array(2 * (n - 1))): Fisher-Yates in place
  Napi::Value Shuffle(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    live(env);
    if (!info[0].IsTypedArray()) throw_kind(env, ErrorKind::Dtype, "values: expected Float64Array");
    const size_t n = info[0].As<Napi::TypedArray>().ElementLength();
    auto* values = static_cast<double*>(typed_data(env, info[0], napi_float64_array, n, "values"));
    auto* words = static_cast<const uint32_t*>(
        typed_data(env, info[1], napi_uint32_array, n > 1 ? 2 * (n - 1) : 0, "random words"));
    replaykit::shuffle(values, n, words);
    return env.Undefined();
  }

  // readPositions(positions: Float64Array(n), outs (null skips a field), keys: Float64Array(n))
  Napi::Value ReadPositions(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& b = live(env);
    to_keys(env, info[0], &keys_, "positions");
    const uint64_t n = keys_.size();
    std::vector<void*> outs = columns(env, info[1], n, "out", true);
    auto* keys = static_cast<double*>(typed_data(env, info[2], napi_float64_array, n, "out.indices"));
    std::vector<uint64_t> found(n);
    guard(env, [&] { b.read_positions(keys_.data(), n, outs.data(), found.data()); });
    for (uint64_t i = 0; i < n; ++i) keys[i] = static_cast<double>(found[i]);
    return env.Undefined();
  }

  // readLive(keys: Float64Array, start, want, outs (null skips), keysOut: Float64Array(want)) -> [consumed, got]
  Napi::Value ReadLive(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& b = live(env);
    to_keys(env, info[0], &keys_);
    const uint64_t start = to_count(env, info[1], "start");
    const uint64_t want = to_count(env, info[2], "want");
    if (start > keys_.size()) throw_kind(env, ErrorKind::Range, "start is past the end of the keys");
    std::vector<void*> outs = columns(env, info[3], want, "out", true);
    auto* keys_out = static_cast<double*>(typed_data(env, info[4], napi_float64_array, want, "out.indices"));
    std::vector<uint64_t> found(want);
    uint64_t got = 0;
    const uint64_t consumed =
        guard(env, [&] { return b.read_live(keys_.data() + start, keys_.size() - start, want, outs.data(), found.data(), &got); });
    for (uint64_t i = 0; i < got; ++i) keys_out[i] = static_cast<double>(found[i]);
    Napi::Array r = Napi::Array::New(env, 2);
    r.Set(0u, Napi::Number::New(env, static_cast<double>(consumed)));
    r.Set(1u, Napi::Number::New(env, static_cast<double>(got)));
    return r;
  }

  Napi::Value Clear(const Napi::CallbackInfo& info) {
    live(info.Env()).clear();
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release(info.Env());
    return info.Env().Undefined();
  }

  Napi::Value Length(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(live(info.Env()).length()));
  }

  // stats() -> { totalPriority, minPriority, maxPriority, bytes }
  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& b = live(env);
    Napi::Object o = Napi::Object::New(env);
    o.Set("totalPriority", b.total_priority());
    o.Set("minPriority", b.min_priority());
    o.Set("maxPriority", b.max_priority());
    o.Set("bytes", static_cast<double>(b.storage().bytes()));
    o.Set("fileBytes", static_cast<double>(b.storage().file_bytes()));
    return o;
  }

  std::unique_ptr<replaykit::ReplayBuffer> buffer_;
  std::vector<uint64_t> keys_;  // scratch for key conversions
  int64_t accounted_ = 0;
  bool hooked_ = false;
};

// setErrorClasses({ shape, dtype, range, state, archive }): the constructors core errors become.
Napi::Value SetErrorClasses(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* data = env.GetInstanceData<AddonData>();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "setErrorClasses needs an object");
  Napi::Object o = info[0].As<Napi::Object>();
  const char* names[kErrorKinds] = {"shape", "dtype", "range", "state", "archive", "storage"};
  for (int k = 0; k < kErrorKinds; ++k) {
    Napi::Value v = o.Get(names[k]);
    if (v.IsFunction()) data->errors[k] = Napi::Persistent(v.As<Napi::Function>());
  }
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());  // per environment, so workers get their own
  exports.Set("NativeBuffer", NativeBuffer::Define(env));
  exports.Set("setErrorClasses", Napi::Function::New(env, SetErrorClasses, "setErrorClasses"));
  return exports;
}

}  // namespace

NODE_API_MODULE(replaykit, Init)
