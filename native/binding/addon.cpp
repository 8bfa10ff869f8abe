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

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "archive.h"
#include "buffer.h"
#include "error.h"
#include "random.h"

namespace {

using replaykit::Dtype;
using replaykit::ErrorKind;

constexpr int kErrorKinds = 6;

struct AddonData {
  Napi::FunctionReference errors[kErrorKinds];  // indexed by ErrorKind
  Napi::FunctionReference archive_map;          // the ArchiveMap constructor
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

// What an argument is, for error messages: a literal, or "field '<name>'". Built into a
// string only when a message is needed, so a call that passes pays no allocation.
struct What {
  const char* text;
  const std::string* field = nullptr;
  What(const char* t) : text(t) {}  // NOLINT: implicit from a literal on purpose
  What(const char* t, const std::string& f) : text(t), field(&f) {}
  std::string str() const { return field ? std::string(text) + " '" + *field + "'" : std::string(text); }
};
std::string operator+(const What& w, const char* s) { return w.str() + s; }

// The data of a typed array of the expected type and length, or a dtype/shape error.
// One napi_get_typedarray_info call: it gives the type, the length and the data pointer
// (already offset into its ArrayBuffer), which matters on the per-call hot path.
void* typed_data(Napi::Env env, Napi::Value v, napi_typedarray_type type, size_t length, const What& what) {
  napi_typedarray_type got;
  size_t got_length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, v, &got, &got_length, &data, nullptr, nullptr) != napi_ok) {
    // Not a typed array: clear the pending state the failed call may leave, then say so.
    napi_value ignored;
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(env, &ignored);
    throw_kind(env, ErrorKind::Dtype, what + ": expected " + array_name(type));
  }
  if (got != type)
    throw_kind(env, ErrorKind::Dtype, what + ": expected " + array_name(type) + ", got " + array_name(got));
  if (got_length != length)
    throw_kind(env, ErrorKind::Shape,
               what + ": expected length " + std::to_string(length) + ", got " + std::to_string(got_length));
  if (data == nullptr && length != 0) throw_kind(env, ErrorKind::State, what + ": its ArrayBuffer is detached");
  return data;
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


// A read-only mapping of an archive file, shared by the ArchiveMap and the external
// ArrayBuffer that views it: unmapped when the map is closed (after the buffer is
// detached) or when the last of the two is collected.
struct Mapping {
  uint8_t* data = nullptr;
  size_t size = 0;
  int refs = 0;
  void unmap() {
    if (data) ::munmap(data, size);
    data = nullptr;
  }
  void release() {
    if (--refs == 0) {
      unmap();
      delete this;
    }
  }
};

// new ArchiveMap(path): maps an archive read-only and checks its structure.
class ArchiveMap : public Napi::ObjectWrap<ArchiveMap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ArchiveMap",
                       {
                           InstanceMethod<&ArchiveMap::Info>("info"),
                           InstanceMethod<&ArchiveMap::Buffer>("buffer"),
                           InstanceMethod<&ArchiveMap::Head>("head"),
                           InstanceMethod<&ArchiveMap::Close>("close"),
                       });
  }

  explicit ArchiveMap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ArchiveMap>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString()) throw_kind(env, ErrorKind::Archive, "an archive path must be a string");
    const std::string path = info[0].As<Napi::String>().Utf8Value();
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_kind(env, ErrorKind::Archive, "cannot open the archive '" + path + "': " + std::strerror(errno));
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      throw_kind(env, ErrorKind::Archive, "the archive path '" + path + "' is not a regular file");
    }
    const size_t size = static_cast<size_t>(st.st_size);
    if (size < sizeof(replaykit::ArchiveHeader)) {
      ::close(fd);
      throw_kind(env, ErrorKind::Archive, "not a valid archive: '" + path + "' is " + std::to_string(size) +
                                               " bytes, shorter than a header");
    }
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    const int err = errno;
    ::close(fd);
    if (p == MAP_FAILED) throw_kind(env, ErrorKind::Archive, "cannot map the archive '" + path + "': " + std::strerror(err));
    mapping_ = new Mapping{static_cast<uint8_t*>(p), size, 1};
    try {
      view_ = replaykit::parse_archive(mapping_->data, size);
    } catch (const replaykit::Error& e) {
      mapping_->release();
      mapping_ = nullptr;
      throw make_error(env, e.kind(), e.what());
    }
  }

  ~ArchiveMap() override {
    if (mapping_) mapping_->release();
  }

  const replaykit::ArchiveView& view(Napi::Env env) const {
    if (!mapping_ || !mapping_->data) throw_kind(env, ErrorKind::State, "the archive is closed");
    return view_;
  }

 private:
  // info() -> header fields, schema, sections, epoch record
  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const replaykit::ArchiveView& v = view(env);
    const replaykit::ArchiveHeader& h = v.header;
    Napi::Object o = Napi::Object::New(env);
    o.Set("version", h.version);
    o.Set("flags", h.flags);
    o.Set("fileBytes", static_cast<double>(h.file_bytes));
    o.Set("tableEnd", static_cast<double>(sizeof(replaykit::ArchiveHeader) + h.section_count * sizeof(replaykit::SectionEntry)));
    o.Set("capacity", static_cast<double>(h.capacity));
    o.Set("length", static_cast<double>(h.length));
    o.Set("cursor", static_cast<double>(h.cursor));
    o.Set("alpha", h.alpha);
    o.Set("betaStart", h.beta_start);
    o.Set("betaEnd", h.beta_end);
    o.Set("epsilon", h.epsilon);
    o.Set("maxPriority", h.max_priority);
    o.Set("betaFrames", static_cast<double>(h.beta_frames));
    o.Set("sampleCalls", static_cast<double>(h.sample_calls));
    Napi::Array rng = Napi::Array::New(env, 4);
    for (uint32_t k = 0; k < 4; ++k) rng.Set(k, h.rng_state[k]);
    o.Set("rngState", rng);
    o.Set("seed", h.seed);
    o.Set("headerCrc", h.header_crc);
    Napi::Array fields = Napi::Array::New(env, v.schema.size());
    for (size_t f = 0; f < v.schema.size(); ++f) {
      const replaykit::Field& fd = v.schema[f];
      Napi::Object fo = Napi::Object::New(env);
      fo.Set("name", fd.name);
      fo.Set("dtype", static_cast<int>(fd.dtype));
      Napi::Array shape = Napi::Array::New(env, fd.shape.size());
      for (size_t k = 0; k < fd.shape.size(); ++k) shape.Set(static_cast<uint32_t>(k), static_cast<double>(fd.shape[k]));
      fo.Set("shape", shape);
      fo.Set("section", v.field_data[f]);
      fields.Set(static_cast<uint32_t>(f), fo);
    }
    o.Set("fields", fields);
    Napi::Array sections = Napi::Array::New(env, v.sections.size());
    for (size_t i = 0; i < v.sections.size(); ++i) {
      const replaykit::SectionEntry& e = v.sections[i];
      Napi::Object so = Napi::Object::New(env);
      so.Set("kind", e.kind);
      so.Set("index", e.index);
      so.Set("offset", static_cast<double>(e.offset));
      so.Set("length", static_cast<double>(e.length));
      so.Set("crc", e.crc);
      sections.Set(static_cast<uint32_t>(i), so);
    }
    o.Set("sections", sections);
    o.Set("keysSection", v.keys);
    o.Set("prioritiesSection", v.priorities);
    if (v.epoch >= 0) {
      const replaykit::EpochRecord r = v.epoch_record();
      Napi::Object eo = Napi::Object::New(env);
      eo.Set("nEpochs", static_cast<double>(r.n_epochs));
      eo.Set("epoch", static_cast<double>(r.epoch));
      eo.Set("cursor", static_cast<double>(r.cursor));
      eo.Set("batchSize", static_cast<double>(r.batch_size));
      eo.Set("randomBatchSize", static_cast<double>(r.random_batch_size));
      eo.Set("keyCount", static_cast<double>(r.key_count));
      eo.Set("flags", r.flags);
      eo.Set("keysOffset", static_cast<double>(v.sections[v.epoch].offset + sizeof(replaykit::EpochRecord)));
      o.Set("epoch", eo);
    }
    return o;
  }

  // head(dst: Uint8Array(n)): copies the first n bytes (the header and section table), so that
  // their checksum can be checked without handing V8 a buffer as large as the file.
  Napi::Value Head(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    view(env);
    napi_typedarray_type type;
    size_t n = 0;
    void* dst = nullptr;
    if (napi_get_typedarray_info(env, info[0], &type, &n, &dst, nullptr, nullptr) != napi_ok || type != napi_uint8_array)
      throw_kind(env, ErrorKind::Dtype, "head: expected Uint8Array");
    if (n > mapping_->size) throw_kind(env, ErrorKind::Range, "head: longer than the file");
    if (n) std::memcpy(dst, mapping_->data, n);
    return env.Undefined();
  }

  // buffer() -> an ArrayBuffer over the whole file: external over the mapping where the
  // runtime allows it (zero-copy), a copy where it refuses external buffers (Electron).
  Napi::Value Buffer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    view(env);
    if (!buffer_ref_.IsEmpty() && !buffer_ref_.Value().IsEmpty()) return buffer_ref_.Value();
    napi_value ab;
    ++mapping_->refs;
    napi_status st = napi_create_external_arraybuffer(
        env, mapping_->data, mapping_->size,
        [](napi_env, void*, void* hint) { static_cast<Mapping*>(hint)->release(); }, mapping_, &ab);
    if (st != napi_ok) {
      --mapping_->refs;
      void* copy = nullptr;
      if (napi_create_arraybuffer(env, mapping_->size, &copy, &ab) != napi_ok)
        throw_kind(env, ErrorKind::Range, "cannot allocate a copy of the archive");
      std::memcpy(copy, mapping_->data, mapping_->size);
      external_ = false;
    } else {
      external_ = true;
    }
    Napi::ArrayBuffer buffer(env, ab);
    buffer_ref_ = Napi::Weak(buffer);
    return buffer;
  }

  // close(): detaches the buffer (views become empty) and unmaps the file.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!mapping_) return env.Undefined();
    if (external_ && !buffer_ref_.IsEmpty()) {
      Napi::ArrayBuffer b = buffer_ref_.Value();
      if (!b.IsEmpty() && !b.IsDetached()) b.Detach();
    }
    buffer_ref_.Reset();
    mapping_->unmap();
    mapping_->release();
    mapping_ = nullptr;
    return env.Undefined();
  }

  Mapping* mapping_ = nullptr;
  replaykit::ArchiveView view_;
  Napi::Reference<Napi::ArrayBuffer> buffer_ref_;
  bool external_ = false;
};

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
                           InstanceMethod<&NativeBuffer::PlanArchive>("planArchive"),
                           InstanceMethod<&NativeBuffer::ArchiveBytes>("archiveBytes"),
                           InstanceMethod<&NativeBuffer::ExportItems>("exportItems"),
                           InstanceMethod<&NativeBuffer::Restore>("restore"),
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
      out[f] = typed_data(env, col, array_type_of(fd.dtype), n * fd.elems, What("field", fd.name));
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
    const void* const* columns_in = cols.data();
    const uint64_t key = guard(env, [&] { return b.push(columns_in, n, pr); });
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
  // Reads the keys in place: the cost is the keys consumed, not the whole array.
  Napi::Value ReadLive(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& b = live(env);
    napi_typedarray_type type;
    size_t n_keys = 0;
    void* data = nullptr;
    if (napi_get_typedarray_info(env, info[0], &type, &n_keys, &data, nullptr, nullptr) != napi_ok ||
        type != napi_float64_array)
      throw_kind(env, ErrorKind::Dtype, "keys: expected Float64Array");
    const uint64_t start = to_count(env, info[1], "start");
    const uint64_t want = to_count(env, info[2], "want");
    if (start > n_keys) throw_kind(env, ErrorKind::Range, "start is past the end of the keys");
    std::vector<void*> outs = columns(env, info[3], want, "out", true);
    auto* keys_out = static_cast<double*>(typed_data(env, info[4], napi_float64_array, want, "out.indices"));
    std::vector<uint64_t> found(want);
    uint64_t got = 0;
    const double* keys = static_cast<const double*>(data) + start;
    const uint64_t consumed =
        guard(env, [&] { return b.read_live(keys, n_keys - start, want, outs.data(), found.data(), &got); });
    for (uint64_t i = 0; i < got; ++i) keys_out[i] = static_cast<double>(found[i]);
    Napi::Array r = Napi::Array::New(env, 2);
    r.Set(0u, Napi::Number::New(env, static_cast<double>(consumed)));
    r.Set(1u, Napi::Number::New(env, static_cast<double>(got)));
    return r;
  }

  // planArchive(meta) -> { fileBytes, tableEnd, sections: [{ kind, index, offset, length, itemBytes }] }
  // meta: { betaStart, betaEnd, epsilon, betaFrames, sampleCalls, rngState: [4], seed,
  //         epoch?: { nEpochs, epoch, cursor, batchSize, randomBatchSize, keyCount, flags } }
  Napi::Value PlanArchive(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& b = live(env);
    if (!info[0].IsObject()) throw_kind(env, ErrorKind::Archive, "planArchive needs a meta object");
    Napi::Object m = info[0].As<Napi::Object>();
    replaykit::ArchiveMeta meta;
    meta.beta_start = to_double(env, m.Get("betaStart"), "betaStart");
    meta.beta_end = to_double(env, m.Get("betaEnd"), "betaEnd");
    meta.epsilon = to_double(env, m.Get("epsilon"), "epsilon");
    meta.beta_frames = to_count(env, m.Get("betaFrames"), "betaFrames");
    meta.sample_calls = to_count(env, m.Get("sampleCalls"), "sampleCalls");
    meta.seed = to_double(env, m.Get("seed"), "seed");
    Napi::Value rv = m.Get("rngState");
    if (!rv.IsArray() || rv.As<Napi::Array>().Length() != 4) throw_kind(env, ErrorKind::Shape, "rngState must be 4 integers");
    for (uint32_t k = 0; k < 4; ++k) meta.rng_state[k] = static_cast<int32_t>(to_double(env, rv.As<Napi::Array>().Get(k), "rngState"));
    Napi::Value ev = m.Get("epoch");
    if (ev.IsObject()) {
      Napi::Object e = ev.As<Napi::Object>();
      meta.has_epoch = true;
      meta.epoch.n_epochs = to_count(env, e.Get("nEpochs"), "nEpochs");
      meta.epoch.epoch = to_count(env, e.Get("epoch"), "epoch");
      meta.epoch.cursor = to_count(env, e.Get("cursor"), "cursor");
      meta.epoch.batch_size = to_count(env, e.Get("batchSize"), "batchSize");
      meta.epoch.random_batch_size = to_count(env, e.Get("randomBatchSize"), "randomBatchSize");
      meta.epoch.key_count = to_count(env, e.Get("keyCount"), "keyCount");
      meta.epoch.flags = static_cast<uint32_t>(to_count(env, e.Get("flags"), "flags"));
    }
    plan_ = std::make_unique<replaykit::ArchivePlan>(guard(env, [&] { return replaykit::plan_archive(b, meta); }));
    epoch_ = meta.epoch;
    Napi::Object o = Napi::Object::New(env);
    o.Set("fileBytes", static_cast<double>(plan_->header.file_bytes));
    o.Set("tableEnd", static_cast<double>(plan_->table_end));
    Napi::Array sections = Napi::Array::New(env, plan_->sections.size());
    for (size_t i = 0; i < plan_->sections.size(); ++i) {
      const replaykit::SectionEntry& e = plan_->sections[i];
      Napi::Object so = Napi::Object::New(env);
      so.Set("kind", e.kind);
      so.Set("index", e.index);
      so.Set("offset", static_cast<double>(e.offset));
      so.Set("length", static_cast<double>(e.length));
      so.Set("itemBytes", static_cast<double>(replaykit::section_item_bytes(b.schema(), e)));
      sections.Set(static_cast<uint32_t>(i), so);
    }
    o.Set("sections", sections);
    return o;
  }

  // archiveBytes(what, dst: Uint8Array, crcs?: Uint32Array): copies the planned bytes the core
  // encodes itself: what 0 = header + table (with section crcs, header crc 0), 1 = schema section,
  // 2 = epoch record. Returns the byte count.
  Napi::Value ArchiveBytes(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    live(env);
    if (!plan_) throw_kind(env, ErrorKind::State, "no archive planned");
    const uint64_t what = to_count(env, info[0], "what");
    std::vector<uint8_t> bytes;
    if (what == 0) {
      auto* crcs = static_cast<const uint32_t*>(
          typed_data(env, info[2], napi_uint32_array, plan_->sections.size(), "crcs"));
      bytes.resize(plan_->table_end);
      replaykit::ArchiveHeader h = plan_->header;
      std::memcpy(bytes.data(), &h, sizeof h);
      for (size_t i = 0; i < plan_->sections.size(); ++i) {
        replaykit::SectionEntry e = plan_->sections[i];
        e.crc = crcs[i];
        std::memcpy(bytes.data() + sizeof h + i * sizeof e, &e, sizeof e);
      }
    } else if (what == 1) {
      bytes = plan_->schema_bytes;
    } else {
      bytes.resize(sizeof(replaykit::EpochRecord));
      std::memcpy(bytes.data(), &epoch_, sizeof epoch_);
    }
    auto* dst = static_cast<uint8_t*>(typed_data(env, info[1], napi_uint8_array, bytes.size(), "dst"));
    std::memcpy(dst, bytes.data(), bytes.size());
    return Napi::Number::New(env, static_cast<double>(bytes.size()));
  }

  // exportItems(section, first, count, dst: Uint8Array(count * itemBytes))
  Napi::Value ExportItems(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& b = live(env);
    if (!plan_) throw_kind(env, ErrorKind::State, "no archive planned");
    const uint64_t i = to_count(env, info[0], "section");
    if (i >= plan_->sections.size()) throw_kind(env, ErrorKind::Range, "no such section");
    const replaykit::SectionEntry& e = plan_->sections[i];
    const uint64_t first = to_count(env, info[1], "first"), count = to_count(env, info[2], "count");
    const uint64_t item = replaykit::section_item_bytes(b.schema(), e);
    if (count > (uint64_t(1) << 40) / (item ? item : 1)) throw_kind(env, ErrorKind::Range, "count too large");
    auto* dst = static_cast<uint8_t*>(typed_data(env, info[3], napi_uint8_array, count * item, "dst"));
    guard(env, [&] { replaykit::export_items(b, e, first, count, dst); });
    return env.Undefined();
  }

  // restore(map: ArchiveMap)
  Napi::Value Restore(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& b = live(env);
    auto* data = env.GetInstanceData<AddonData>();
    if (!info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(data->archive_map.Value()))
      throw_kind(env, ErrorKind::Archive, "restore needs an ArchiveMap");
    ArchiveMap* map = ArchiveMap::Unwrap(info[0].As<Napi::Object>());
    const replaykit::ArchiveView& v = map->view(env);
    guard(env, [&] { b.restore(v); });
    return env.Undefined();
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
  std::unique_ptr<replaykit::ArchivePlan> plan_;  // the archive being saved
  replaykit::EpochRecord epoch_{};
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
  auto* data = env.GetInstanceData<AddonData>();
  if (!data) {  // per environment, so workers get their own; reused if the module loads twice
    data = new AddonData();
    env.SetInstanceData(data);
  }
  Napi::Function archive_map = ArchiveMap::Define(env);
  data->archive_map = Napi::Persistent(archive_map);
  exports.Set("NativeBuffer", NativeBuffer::Define(env));
  exports.Set("ArchiveMap", archive_map);
  exports.Set("setErrorClasses", Napi::Function::New(env, SetErrorClasses, "setErrorClasses"));
  return exports;
}

}  // namespace

NODE_API_MODULE(replaykit, Init)
