// new ArchiveMap(path): maps an archive read-only; the core checks its structure and its
// header checksum (parse_archive) and, step by step, its sections' checksums.
//
// The mapping is the core's MappedFile (read-only mode: regular files only, so a FIFO is
// refused at once; no descriptor kept; registered with the SIGBUS fault guard), shared by
// the ArchiveMap and the external ArrayBuffer that views it: the map drops its reference
// when closed (after detaching the buffer) or collected, the buffer's finalizer its own.
//
// Contract (lib/native/contract.ts, NativeArchiveMap):
//   info()                      the header, schema (user fields, with their stored rows' offset,
//                               bytes and storedShape; none for a derived next field), sections,
//                               epoch record, rate limiter, episodes, derived fields ({ obs, next
//                               by name, frames, validateNext, bytes }) and extensions
//                               ([{ name, data: Uint8Array copy }]), enums by name
//   buffer()                    an ArrayBuffer over the whole file (zero-copy where allowed)
//   verifyChecksums(maxBytes)   { done, bytesVerified }: checks up to maxBytes more; throws
//                               ArchiveError naming a section whose checksum does not match
//   checkSections()             [{ name, bytes, ok }] for every section (a report; no throw)
//   damaged()                   whether another process truncated the file under the mapping
//   close()                     detaches the buffer and unmaps the file
#include "archive_object.h"

#include <cstring>
#include <memory>
#include <string>

#include "addon.h"
#include "convert.h"
#include "error.h"
#include "errors.h"
#include "file.h"
#include "rate_limiter_js.h"

namespace replaykit_node {

using replaykit::ErrorKind;
using replaykit::fail;

namespace {

class ArchiveMap : public Napi::ObjectWrap<ArchiveMap>, public Guarded<ArchiveMap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ArchiveMap",
                       {
                           InstanceMethod("info", &ArchiveMap::method<&ArchiveMap::Info>),
                           InstanceMethod("buffer", &ArchiveMap::method<&ArchiveMap::Buffer>),
                           InstanceMethod("verifyChecksums", &ArchiveMap::method<&ArchiveMap::VerifyChecksums>),
                           InstanceMethod("checkSections", &ArchiveMap::method<&ArchiveMap::CheckSections>),
                           InstanceMethod("close", &ArchiveMap::method<&ArchiveMap::Close>),
                           InstanceMethod("damaged", &ArchiveMap::method<&ArchiveMap::Damaged>),
                       });
  }

  explicit ArchiveMap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ArchiveMap>(info) {
    guard(info.Env(), [&] {
      const std::string path = to_string(info[0], "an archive path");
      std::shared_ptr<replaykit::MappedFile> file = replaykit::MappedFile::open_readonly(path);
      if (file->size() < sizeof(replaykit::ArchiveHeader))
        fail(ErrorKind::Archive, "not a valid archive: '" + path + "' is " + std::to_string(file->size()) +
                                     " bytes, shorter than a header");
      view_ = replaykit::parse_archive(file->data(), file->size());
      file_ = std::move(file);
    });
  }

  const replaykit::ArchiveView& view() const {
    if (!file_) fail(ErrorKind::State, "the archive is closed");
    return view_;
  }

 private:
  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const replaykit::ArchiveView& v = view();
    const replaykit::ArchiveHeader& h = v.header;
    Napi::Object o = Napi::Object::New(env);
    o.Set("version", h.version);
    o.Set("kind", v.prioritized() ? "prioritized" : "uniform");
    o.Set("eviction", eviction_name(v.lowest_priority() ? replaykit::Eviction::LowestPriority : replaykit::Eviction::Fifo));
    o.Set("fileBytes", static_cast<double>(h.file_bytes));
    o.Set("capacity", static_cast<double>(h.capacity));
    o.Set("length", static_cast<double>(h.length));
    o.Set("alpha", h.alpha);
    o.Set("betaStart", h.beta_start);
    o.Set("betaEnd", h.beta_end);
    o.Set("epsilon", h.epsilon);
    o.Set("betaFrames", static_cast<double>(h.beta_frames));
    Napi::Array rng = Napi::Array::New(env, 4);
    for (uint32_t k = 0; k < 4; ++k) rng.Set(k, h.rng_state[k]);
    o.Set("rngState", rng);
    o.Set("seed", h.seed);
    // The user schema, each field with where its stored rows lie: a field stored once with a
    // frame stack holds only each item's newest frame (storedShape), the next field none.
    Napi::Array fields = Napi::Array::New(env, v.schema.size());
    for (size_t f = 0; f < v.schema.size(); ++f) {
      Napi::Object fo = field_to_js(env, v.schema[f]);
      const size_t sf = v.stored_of[f];
      if (sf != replaykit::kNoField) {
        const replaykit::SectionEntry& s = v.sections[v.field_data[sf]];
        fo.Set("offset", static_cast<double>(s.offset));
        fo.Set("bytes", static_cast<double>(s.length));
        fo.Set("storedShape", field_to_js(env, v.stored[sf]).Get("shape"));
      }
      fields.Set(static_cast<uint32_t>(f), fo);
    }
    o.Set("fields", fields);
    if (v.derived >= 0) {
      const replaykit::DerivedRecord r = v.derived_record();
      Napi::Object dobj = Napi::Object::New(env);
      dobj.Set("obs", v.schema[r.obs].name);
      dobj.Set("next", v.schema[r.next].name);
      dobj.Set("frames", static_cast<double>(r.frames));
      dobj.Set("validateNext", (r.flags & replaykit::kDerivedValidateNext) != 0);
      dobj.Set("bytes", static_cast<double>(v.sections[v.derived].length));
      o.Set("derived", dobj);
    }
    if (v.priorities >= 0) {
      const replaykit::SectionEntry& s = v.sections[v.priorities];
      Napi::Object po = Napi::Object::New(env);
      po.Set("offset", static_cast<double>(s.offset));
      po.Set("bytes", static_cast<double>(s.length));
      o.Set("priorities", po);
    }
    if (v.epoch >= 0) {
      const replaykit::EpochRecord r = v.epoch_record();
      Napi::Object eo = Napi::Object::New(env);
      eo.Set("nEpochs", static_cast<double>(r.n_epochs));
      eo.Set("epoch", static_cast<double>(r.epoch));
      eo.Set("cursor", static_cast<double>(r.cursor));
      eo.Set("batchSize", static_cast<double>(r.batch_size));
      eo.Set("randomBatchSize", static_cast<double>(r.random_batch_size));
      eo.Set("shuffle", (r.flags & replaykit::kEpochShuffle) != 0);
      eo.Set("dropLast", (r.flags & replaykit::kEpochDropLast) != 0);
      eo.Set("iterator", (r.flags & replaykit::kEpochIterator) != 0);
      if (r.flags & replaykit::kEpochHasKeys) {
        // A copy: the keys outlive the mapping in the restored iterator.
        Napi::Float64Array keys = Napi::Float64Array::New(env, r.key_count);
        if (r.key_count) std::memcpy(keys.Data(), v.at(v.epoch) + sizeof r, 8 * r.key_count);
        eo.Set("keys", keys);
      } else {
        eo.Set("keys", env.Null());
      }
      o.Set("epoch", eo);
    }
    if (v.rate_limiter >= 0) o.Set("rateLimiter", rate_record_to_js(env, v.rate_limiter_record()));
    if (v.episodes >= 0) {
      const replaykit::EpisodesRecord r = v.episodes_record();
      Napi::Object eo = Napi::Object::New(env);
      eo.Set("streams", static_cast<double>(r.streams));
      if (r.nstep_n > 0) {
        Napi::Object no = Napi::Object::New(env);
        no.Set("n", static_cast<double>(r.nstep_n));
        no.Set("gamma", r.nstep_gamma);
        eo.Set("nStep", no);
      } else {
        eo.Set("nStep", env.Null());
      }
      o.Set("episodes", eo);
    }
    Napi::Array extensions = Napi::Array::New(env, v.extensions.size());
    for (size_t i = 0; i < v.extensions.size(); ++i) {
      uint64_t n = 0;
      const uint8_t* data = v.extension_data(i, &n);
      Napi::Object xo = Napi::Object::New(env);
      xo.Set("name", v.extension_name(i));
      // A copy: the facade keeps it after the mapping is closed.
      Napi::Uint8Array copy = Napi::Uint8Array::New(env, n);
      if (n) std::memcpy(copy.Data(), data, n);
      xo.Set("data", copy);
      extensions.Set(static_cast<uint32_t>(i), xo);
    }
    o.Set("extensions", extensions);
    return o;
  }

  // An ArrayBuffer over the whole file: external over the mapping where the runtime allows it
  // (zero-copy), a copy where it refuses external buffers (Electron).
  Napi::Value Buffer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    view();
    if (!buffer_ref_.IsEmpty() && !buffer_ref_.Value().IsEmpty()) return buffer_ref_.Value();
    napi_value ab;
    // The buffer's own reference to the mapping, dropped by its finalizer.
    auto* ref = new std::shared_ptr<replaykit::MappedFile>(file_);
    napi_status st = napi_create_external_arraybuffer(
        env, file_->data(), file_->size(),
        [](napi_env, void*, void* hint) { delete static_cast<std::shared_ptr<replaykit::MappedFile>*>(hint); }, ref, &ab);
    if (st != napi_ok) {
      delete ref;
      void* copy = nullptr;
      if (napi_create_arraybuffer(env, file_->size(), &copy, &ab) != napi_ok)
        fail(ErrorKind::Range, "cannot allocate a copy of the archive");
      std::memcpy(copy, file_->data(), file_->size());
      external_ = false;
    } else {
      external_ = true;
    }
    Napi::ArrayBuffer buffer(env, ab);
    buffer_ref_ = Napi::Weak(buffer);
    return buffer;
  }

  Napi::Value VerifyChecksums(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const replaykit::ArchiveView& v = view();
    const uint64_t budget = to_count(info[0], "maxBytes");
    if (budget == 0) fail(ErrorKind::Range, "maxBytes must be at least 1");
    const bool done = verifier_.step(v, budget);
    Napi::Object o = Napi::Object::New(env);
    o.Set("done", done);
    o.Set("bytesVerified", static_cast<double>(verifier_.bytes_verified()));
    return o;
  }

  Napi::Value CheckSections(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const replaykit::ArchiveView& v = view();
    const std::vector<bool> ok = replaykit::check_sections(v);
    Napi::Array out = Napi::Array::New(env, ok.size());
    for (size_t i = 0; i < ok.size(); ++i) {
      Napi::Object so = Napi::Object::New(env);
      so.Set("name", replaykit::section_label(v, i));
      so.Set("bytes", static_cast<double>(v.sections[i].length));
      so.Set("ok", static_cast<bool>(ok[i]));
      out.Set(static_cast<uint32_t>(i), so);
    }
    return out;
  }

  // The facade checks this after reading through the mapping (load, verify, field views):
  // a truncation from outside makes the fault guard map zeros, so what was read is not the file.
  Napi::Value Damaged(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), file_ != nullptr && file_->damaged());
  }

  // Detaches the buffer (views become empty), then unmaps the file now rather than when V8
  // frees the detached buffer: no view can reach the mapping any more.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!file_) return env.Undefined();
    if (external_ && !buffer_ref_.IsEmpty()) {
      Napi::ArrayBuffer b = buffer_ref_.Value();
      if (!b.IsEmpty() && !b.IsDetached()) b.Detach();
    }
    buffer_ref_.Reset();
    file_->close();
    file_.reset();
    return env.Undefined();
  }

  std::shared_ptr<replaykit::MappedFile> file_;  // null once closed
  replaykit::ArchiveView view_;
  replaykit::ChecksumVerifier verifier_;
  Napi::Reference<Napi::ArrayBuffer> buffer_ref_;
  bool external_ = false;
};

}  // namespace

Napi::Function define_archive_map(Napi::Env env) { return ArchiveMap::Define(env); }

const replaykit::ArchiveView& archive_view_of(Napi::Env env, Napi::Value map) {
  auto* data = env.GetInstanceData<AddonData>();
  if (!map.IsObject() || !map.As<Napi::Object>().InstanceOf(data->archive_map.Value()))
    fail(ErrorKind::Archive, "restore needs an ArchiveMap");
  return ArchiveMap::Unwrap(map.As<Napi::Object>())->view();
}

}  // namespace replaykit_node
