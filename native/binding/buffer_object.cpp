// NativeBuffer: the core's ReplayBuffer as a JS object. Over 300 lines because it is the
// binding of every buffer method (each a few lines of argument checks around one core call);
// what it shares with the writer object is in buffer_calls.cpp.
//
// Contract (lib/native/contract.ts, NativeBuffer and NativeSpec): whole columns cross the boundary once
// per call; the facade allocates the output typed arrays and passes them in. The binding
// checks what memory safety needs (types, lengths, a live buffer); the facade has validated
// the user's input and the core asserts its own invariants.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "addon.h"
#include "archive.h"
#include "archive_object.h"
#include "buffer.h"
#include "buffer_calls.h"
#include "convert.h"
#include "error.h"
#include "errors.h"
#include "random.h"
#include "rate_limiter.h"
#include "rate_limiter_js.h"
#include "rate_wait.h"
#include "shared.h"

namespace replaykit_node {

using replaykit::ErrorKind;
using replaykit::fail;

namespace {

class NativeBuffer : public Napi::ObjectWrap<NativeBuffer>, public Guarded<NativeBuffer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "NativeBuffer",
        {
            InstanceMethod("push", &NativeBuffer::method<&NativeBuffer::Push>),
            InstanceMethod("sample", &NativeBuffer::method<&NativeBuffer::Sample>),
            InstanceMethod("sampleSequences", &NativeBuffer::method<&NativeBuffer::SampleSequences>),
            InstanceMethod("updatePriorities", &NativeBuffer::method<&NativeBuffer::UpdatePriorities>),
            InstanceMethod("top", &NativeBuffer::method<&NativeBuffer::Top>),
            InstanceMethod("read", &NativeBuffer::method<&NativeBuffer::Read>),
            InstanceMethod("keysInOrder", &NativeBuffer::method<&NativeBuffer::KeysInOrder>),
            InstanceMethod("shuffle", &NativeBuffer::method<&NativeBuffer::Shuffle>),
            InstanceMethod("readPositions", &NativeBuffer::method<&NativeBuffer::ReadPositions>),
            InstanceMethod("readLive", &NativeBuffer::method<&NativeBuffer::ReadLive>),
            InstanceMethod("planArchive", &NativeBuffer::method<&NativeBuffer::PlanArchive>),
            InstanceMethod("exportChunk", &NativeBuffer::method<&NativeBuffer::ExportChunk>),
            InstanceMethod("archiveHead", &NativeBuffer::method<&NativeBuffer::ArchiveHead>),
            InstanceMethod("checkArchiveHead", &NativeBuffer::method<&NativeBuffer::CheckArchiveHead>),
            InstanceMethod("endArchive", &NativeBuffer::method<&NativeBuffer::EndArchive>),
            InstanceMethod("restore", &NativeBuffer::method<&NativeBuffer::Restore>),
            InstanceMethod("clear", &NativeBuffer::method<&NativeBuffer::Clear>),
            InstanceMethod("close", &NativeBuffer::method<&NativeBuffer::Close>),
            InstanceMethod("stats", &NativeBuffer::method<&NativeBuffer::Stats>),
            InstanceMethod("rateWait", &NativeBuffer::method<&NativeBuffer::RateWait>),
            InstanceMethod("rateCancel", &NativeBuffer::method<&NativeBuffer::RateCancel>),
            InstanceMethod("rateRefund", &NativeBuffer::method<&NativeBuffer::RateRefund>),
            InstanceMethod("rateInfo", &NativeBuffer::method<&NativeBuffer::RateInfo>),
            InstanceMethod("rateSetEnabled", &NativeBuffer::method<&NativeBuffer::RateSetEnabled>),
            InstanceMethod("share", &NativeBuffer::method<&NativeBuffer::Share>),
            InstanceAccessor("length", &NativeBuffer::method<&NativeBuffer::Length>, nullptr),
            InstanceAccessor("beta", &NativeBuffer::method<&NativeBuffer::Beta>, nullptr),
        });
  }

  // new NativeBuffer({ capacity, fields: [{ name, dtype, shape }],
  //                    prioritized: { alpha, eviction, epsilon, betaStart, betaEnd, betaFrames } | null,
  //                    storage: { type: 'memory' } | { type: 'mmap', path } | { type: 'tiered', path, hotCapacity },
  //                    rateLimiter?: { minSize, samplesPerInsert?, errorBuffer? } })
  explicit NativeBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeBuffer>(info) {
    Napi::Env env = info.Env();
    guard(env, [&] { Construct(info); });
    accounted_ = static_cast<int64_t>(buffer_->storage().bytes() + 40 * buffer_->capacity());
    Napi::MemoryManagement::AdjustExternalMemory(env, accounted_);
    // At environment teardown (a worker exiting, the process ending) free the buffer and
    // delete its files even if it was never closed or collected.
    napi_add_env_cleanup_hook(env, &NativeBuffer::CleanupHook, this);
    hooked_ = true;
  }

  ~NativeBuffer() override { Release(Env()); }

 private:
  void Construct(const Napi::CallbackInfo& info) {
    if (!info[0].IsObject()) fail(ErrorKind::Shape, "NativeBuffer needs a spec object");
    Napi::Object spec = info[0].As<Napi::Object>();
    const uint64_t capacity = to_count(spec.Get("capacity"), "capacity");
    Napi::Value fv = spec.Get("fields");
    if (!fv.IsArray()) fail(ErrorKind::Shape, "fields must be an array");
    Napi::Array fa = fv.As<Napi::Array>();
    std::vector<replaykit::Field> fields;
    for (uint32_t i = 0; i < fa.Length(); ++i) {
      Napi::Value ev = fa.Get(i);
      if (!ev.IsObject()) fail(ErrorKind::Shape, "fields[" + std::to_string(i) + "] must be an object");
      Napi::Object fo = ev.As<Napi::Object>();
      std::string name = to_string(fo.Get("name"), "a field name");
      const Dtype dtype = dtype_from(fo.Get("dtype"));
      Napi::Value sv = fo.Get("shape");
      if (!sv.IsArray()) fail(ErrorKind::Shape, "a field's shape must be an array");
      Napi::Array sa = sv.As<Napi::Array>();
      if (sa.Length() > replaykit::kMaxDims)  // make_field says so too; this bounds the loop below
        fail(ErrorKind::Shape, "field '" + name + "': at most " + std::to_string(replaykit::kMaxDims) + " dimensions");
      std::vector<uint64_t> shape;
      for (uint32_t k = 0; k < sa.Length(); ++k) shape.push_back(to_count(sa.Get(k), "a shape dimension"));
      fields.push_back(replaykit::make_field(std::move(name), dtype, std::move(shape)));
    }
    std::optional<replaykit::PrioritizedOptions> per;
    Napi::Value pv = spec.Get("prioritized");
    if (pv.IsObject()) {
      Napi::Object po = pv.As<Napi::Object>();
      replaykit::PrioritizedOptions o;
      o.alpha = to_double(po.Get("alpha"), "alpha");
      o.eviction = eviction_from(po.Get("eviction"));
      o.epsilon = to_double(po.Get("epsilon"), "epsilon");
      o.beta.start = to_double(po.Get("betaStart"), "betaStart");
      o.beta.end = to_double(po.Get("betaEnd"), "betaEnd");
      o.beta.frames = to_count(po.Get("betaFrames"), "betaFrames");
      per = o;
    }
    Napi::Value sv = spec.Get("storage");
    if (!sv.IsObject()) fail(ErrorKind::Storage, "storage must be an object");
    Napi::Object so = sv.As<Napi::Object>();
    const StorageType type = storage_type_from(so.Get("type"));
    replaykit::Schema schema(std::move(fields));
    // derived: { obs, next (field indexes), frames, validateNext } | null: observations stored
    // once; the storage holds the stored schema (derived.h).
    std::optional<replaykit::DerivedOptions> derived;
    Napi::Value dv = spec.Get("derived");
    if (dv.IsObject()) {
      Napi::Object d = dv.As<Napi::Object>();
      replaykit::DerivedOptions o;
      o.user = schema;
      o.obs = to_count(d.Get("obs"), "derived.obs");
      o.next = to_count(d.Get("next"), "derived.next");
      const uint64_t frames = to_count(d.Get("frames"), "derived.frames");
      if (frames > replaykit::kMaxFrames) fail(ErrorKind::Range, "frameStack.frames is too large");
      o.frames = static_cast<uint32_t>(frames);
      o.validate_next = to_bool(d.Get("validateNext"), "derived.validateNext");
      schema = replaykit::stored_schema(o);
      derived = std::move(o);
    }
    std::unique_ptr<replaykit::Storage> storage;
    if (type == StorageType::Memory) {
      storage = std::make_unique<replaykit::MemoryStorage>(std::move(schema), capacity);
    } else {
      const std::string path = to_string(so.Get("path"), "storage.path");
      if (type == StorageType::Mmap)
        storage = std::make_unique<replaykit::MmapStorage>(std::move(schema), capacity, path);
      else
        storage = std::make_unique<replaykit::TieredStorage>(std::move(schema), capacity,
                                                             to_count(so.Get("hotCapacity"), "storage.hotCapacity"), path);
    }
    // The limiter first: its options are checked before a storage file is made.
    Napi::Value rv = spec.Get("rateLimiter");
    std::shared_ptr<replaykit::RateLimiter> limiter;
    if (!rv.IsUndefined() && !rv.IsNull()) limiter = std::make_shared<replaykit::RateLimiter>(rate_config_from(rv));
    // episodes: { terminated, truncated, reward?, nextObs? (field indexes; the last two with
    // nStep), nStep: { n, gamma } | null } | null
    std::optional<replaykit::EpisodeOptions> episodes;
    Napi::Value ev = spec.Get("episodes");
    if (ev.IsObject()) {
      Napi::Object eo = ev.As<Napi::Object>();
      replaykit::EpisodeOptions o;
      o.terminated = to_count(eo.Get("terminated"), "episodes.terminated");
      o.truncated = to_count(eo.Get("truncated"), "episodes.truncated");
      Napi::Value nv = eo.Get("nStep");
      if (nv.IsObject()) {
        o.reward = to_count(eo.Get("reward"), "episodes.reward");
        o.next_obs = to_count(eo.Get("nextObs"), "episodes.nextObs");
        const uint64_t n = to_count(nv.As<Napi::Object>().Get("n"), "nStep.n");
        if (n > 1024) fail(ErrorKind::Range, "nStep.n must be at most 1024");
        o.nstep = replaykit::NStep{static_cast<uint32_t>(n), to_double(nv.As<Napi::Object>().Get("gamma"), "nStep.gamma")};
      }
      // her: { goal, achievedGoal, nextAchievedGoal (field indexes), strategy: 'future' | 'final' | 'episode', k }
      Napi::Value hv = eo.Get("her");
      if (hv.IsObject()) {
        Napi::Object ho = hv.As<Napi::Object>();
        replaykit::HerOptions h;
        h.goal = to_count(ho.Get("goal"), "her.goal");
        h.achieved_goal = to_count(ho.Get("achievedGoal"), "her.achievedGoal");
        h.next_achieved_goal = to_count(ho.Get("nextAchievedGoal"), "her.nextAchievedGoal");
        const std::string strategy = to_string(ho.Get("strategy"), "her.strategy");
        if (strategy == "future") h.strategy = replaykit::HerStrategy::Future;
        else if (strategy == "final") h.strategy = replaykit::HerStrategy::Final;
        else if (strategy == "episode") h.strategy = replaykit::HerStrategy::Episode;
        else fail(ErrorKind::Range, "her.strategy must be 'future', 'final' or 'episode'");
        const uint64_t k = to_count(ho.Get("k"), "her.k");
        if (k > replaykit::kMaxHerK) fail(ErrorKind::Range, "her.k must be at most 65536");
        h.k = static_cast<uint32_t>(k);
        o.her = h;
      }
      episodes = o;
    }
    buffer_ = std::make_shared<replaykit::ReplayBuffer>(std::move(storage), per, episodes, std::move(derived));
    if (limiter) {
      limiter_ = std::move(limiter);
      waits_ = std::make_unique<RateWaits>(limiter_);
    }
  }

  // The buffer, refused once closed, and once its storage file was truncated from outside
  // (the fault guard then maps zeros: nothing read or written there is the file any more).
  replaykit::ReplayBuffer& live() {
    if (!buffer_) fail(ErrorKind::State, "the buffer is closed");
    buffer_->storage().check_intact();
    return *buffer_;
  }

  static void CleanupHook(void* self) {
    auto* b = static_cast<NativeBuffer*>(self);
    b->hooked_ = false;  // node removes a hook once it has run
    b->exporter_.reset();
    b->CloseShared();  // no JS calls at teardown
    if (b->limiter_) b->limiter_->cancel_all();  // their deliveries find no event loop: dropped
    b->accounted_ = 0;
  }

  // Closes the core buffer (writers in other threads hold it too: their calls become
  // Error(State)) and forgets it; the storage's files are deleted now, not when the last
  // writer lets go.
  void CloseShared() {
    if (shared_id_) unshare(shared_id_);
    shared_id_ = 0;
    if (buffer_) buffer_->close();
    buffer_.reset();
  }

  void Release(Napi::Env env) {
    if (hooked_) {
      napi_remove_env_cleanup_hook(env, &NativeBuffer::CleanupHook, this);
      hooked_ = false;
    }
    exporter_.reset();  // it refers to the buffer
    // Pending waits end 'closed' (their promises reject with StateError once delivered), and no
    // new ones start; the waits' thread-safe function goes once those are delivered.
    if (limiter_) limiter_->cancel_all();
    if (waits_) waits_->close();
    if (!buffer_) return;
    CloseShared();
    if (accounted_) Napi::MemoryManagement::AdjustExternalMemory(env, -accounted_);
    accounted_ = 0;
  }

  // The fields' arrays of a call, into outs_ (reused: no allocation a call once grown).
  void* const* columns(Napi::Env env, Napi::Value v, uint64_t n, const char* what, bool allow_null = false) {
    return columns_of(env, v, live().schema(), n, what, outs_, allow_null);
  }

  // push(columns, n, priorities?, admitted?): buffer_calls.h
  Napi::Value Push(const Napi::CallbackInfo& info) { return push_call(info, live(), limiter_.get()); }

  // sample(n, words: Uint32Array(2n, or 2n + 2 with relabelled), outs, keys: Float64Array(n),
  //        weights: Float32Array(n) | null, beta?, admitted?, discount?: Float32Array(n),
  //        relabelled?: Uint8Array(n) (HER buffers: relabel, her.h)
  // A prioritized draw uses `beta` when given, else the schedule's, and advances the schedule.
  // The rate limiter counts the n items, unless `admitted` (sampleAsync's grant counted them).
  Napi::Value Sample(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& b = live();
    const uint64_t n = to_count(info[0], "batch size");
    uint8_t* relabelled = nullptr;
    if (b.her() && !info[8].IsUndefined() && !info[8].IsNull())
      relabelled = static_cast<uint8_t*>(typed_data(env, info[8], napi_uint8_array, n, "out.relabelled"));
    auto* words = static_cast<const uint32_t*>(
        typed_data(env, info[1], napi_uint32_array, 2 * n + (relabelled ? 2 : 0), "random words"));
    void* const* outs = columns(env, info[2], n, "out");
    auto* keys = static_cast<double*>(typed_data(env, info[3], napi_float64_array, n, "out.indices"));
    float* weights = nullptr;
    if (!info[4].IsUndefined() && !info[4].IsNull())
      weights = static_cast<float*>(typed_data(env, info[4], napi_float32_array, n, "out.weights"));
    std::optional<double> beta;
    if (!info[5].IsUndefined()) beta = to_double(info[5], "beta");
    keys_.resize(n);
    const bool admitted = info[6].IsBoolean() && info[6].As<Napi::Boolean>().Value();
    float* discount = nullptr;  // n-step buffers: gamma^m of each item (0 when terminated)
    if (!info[7].IsUndefined() && !info[7].IsNull())
      discount = static_cast<float*>(typed_data(env, info[7], napi_float32_array, n, "out.discount"));
    b.sample(n, words, outs, keys_.data(), weights, beta, discount, relabelled);
    if (limiter_ && !admitted) limiter_->on_sample(n);
    keys_to_js(keys_.data(), n, keys);
    return env.Undefined();
  }

  // sampleSequences(n, spec: { length, stride, burnIn, crossEpisodes, pad }, words: Uint32Array(2n + 2),
  //   outs (n * length rows a field), mask: Uint8Array(n * length), burnOuts | null (n * burnIn
  //   rows a field), burnMask: Uint8Array(n * burnIn) | null, keys: Float64Array(n),
  //   weights: Float32Array(n) | null, beta: number | undefined)
  Napi::Value SampleSequences(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& b = live();
    const uint64_t n = to_count(info[0], "batch size");
    if (!info[1].IsObject()) fail(ErrorKind::Range, "sampleSequences needs its options");
    Napi::Object so = info[1].As<Napi::Object>();
    replaykit::SequenceSpec spec;
    spec.length = to_count(so.Get("length"), "length");
    spec.stride = to_count(so.Get("stride"), "stride");
    spec.burn_in = to_count(so.Get("burnIn"), "burnIn");
    spec.cross_episodes = to_bool(so.Get("crossEpisodes"), "crossEpisodes");
    spec.pad = to_bool(so.Get("pad"), "pad");
    // Sizes first: n * length rows must be countable before any array is checked against them.
    if (spec.length == 0 || spec.length > replaykit::kMaxSequenceSteps || spec.burn_in > replaykit::kMaxSequenceSteps ||
        n > (uint64_t(1) << 32))
      fail(ErrorKind::Range, "a sequence batch out of range");
    auto* words = static_cast<const uint32_t*>(typed_data(env, info[2], napi_uint32_array, 2 * n + 2, "random words"));
    void* const* outs = columns(env, info[3], n * spec.length, "out");
    auto* mask = static_cast<uint8_t*>(typed_data(env, info[4], napi_uint8_array, n * spec.length, "out.mask"));
    void* const* burn_outs = nullptr;
    uint8_t* burn_mask = nullptr;
    if (spec.burn_in > 0 && !info[5].IsNull() && !info[5].IsUndefined()) {
      burn_outs = columns_of(env, info[5], b.schema(), n * spec.burn_in, "out.burnIn", burn_outs_);
      burn_mask = static_cast<uint8_t*>(typed_data(env, info[6], napi_uint8_array, n * spec.burn_in, "out.burnIn.mask"));
    }
    auto* keys = static_cast<double*>(typed_data(env, info[7], napi_float64_array, n, "out.indices"));
    float* weights = nullptr;
    if (!info[8].IsUndefined() && !info[8].IsNull())
      weights = static_cast<float*>(typed_data(env, info[8], napi_float32_array, n, "out.weights"));
    std::optional<double> beta;
    if (!info[9].IsUndefined()) beta = to_double(info[9], "beta");
    keys_.resize(n);
    b.sample_sequences(n, spec, words, outs, mask, burn_outs, burn_mask,
                       keys_.data(), weights, beta);
    if (limiter_) limiter_->on_sample(n);  // a sequence counts as one sampled item (Reverb's trajectories)
    keys_to_js(keys_.data(), n, keys);
    return env.Undefined();
  }

  // updatePriorities(keys: Float64Array, deltas: Float32Array | Float64Array) -> applied
  // (p = |delta| + the buffer's epsilon)
  Napi::Value UpdatePriorities(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& b = live();
    keys_from_js(env, info[0], &keys_, "indices");
    const uint64_t n = keys_.size();
    uint64_t applied;
    if (info[1].IsTypedArray() && info[1].As<Napi::TypedArray>().TypedArrayType() == napi_float32_array) {
      auto* d = static_cast<const float*>(typed_data(env, info[1], napi_float32_array, n, "tdErrors"));
      applied = b.update_priorities(keys_.data(), n, d);
    } else {
      auto* d = static_cast<const double*>(typed_data(env, info[1], napi_float64_array, n, "tdErrors"));
      applied = b.update_priorities(keys_.data(), n, d);
    }
    return Napi::Number::New(env, static_cast<double>(applied));
  }

  // top(k, keys: Float64Array(k), priorities: Float64Array(k))
  Napi::Value Top(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& b = live();
    const uint64_t k = to_count(info[0], "k");
    auto* keys = static_cast<double*>(typed_data(env, info[1], napi_float64_array, k, "keys"));
    auto* pr = static_cast<double*>(typed_data(env, info[2], napi_float64_array, k, "priorities"));
    keys_.resize(k);
    b.top(k, keys_.data(), pr);
    keys_to_js(keys_.data(), k, keys);
    return env.Undefined();
  }

  // The optional `discount` output of a read (n-step buffers): Float32Array(n) or absent.
  static float* discount_of(Napi::Env env, Napi::Value v, uint64_t n) {
    if (v.IsUndefined() || v.IsNull()) return nullptr;
    return static_cast<float*>(typed_data(env, v, napi_float32_array, n, "out.discount"));
  }

  // read(keys: Float64Array(n), outs, discount?: Float32Array(n))
  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& b = live();
    keys_from_js(env, info[0], &keys_, "indices");
    void* const* outs = columns(env, info[1], keys_.size(), "out");
    b.read(keys_.data(), keys_.size(), outs, discount_of(env, info[2], keys_.size()));
    return env.Undefined();
  }

  // keysInOrder(out: Float64Array(length)): the keys of the stored items, oldest first
  Napi::Value KeysInOrder(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& b = live();
    const uint64_t n = b.length();
    auto* out = static_cast<double*>(typed_data(env, info[0], napi_float64_array, n, "keys"));
    keys_.resize(n);
    b.keys_in_order(keys_.data());
    keys_to_js(keys_.data(), n, out);
    return env.Undefined();
  }

  // shuffle(values: Float64Array(n), words: Uint32Array(2 * (n - 1))): Fisher-Yates in place
  Napi::Value Shuffle(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    live();
    size_t n = 0;
    auto* values = static_cast<double*>(typed_data_any(env, info[0], napi_float64_array, &n, "values"));
    auto* words = static_cast<const uint32_t*>(
        typed_data(env, info[1], napi_uint32_array, n > 1 ? 2 * (n - 1) : 0, "random words"));
    replaykit::shuffle(values, n, words);
    return env.Undefined();
  }

  // readPositions(positions: Float64Array(n), outs (null skips a field), keys: Float64Array(n),
  //   discount?: Float32Array(n))
  Napi::Value ReadPositions(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& b = live();
    keys_from_js(env, info[0], &keys_, "positions");  // a non-integer becomes a position out of range
    const uint64_t n = keys_.size();
    void* const* outs = columns(env, info[1], n, "out", true);
    auto* keys = static_cast<double*>(typed_data(env, info[2], napi_float64_array, n, "out.indices"));
    std::vector<uint64_t> found(n);
    b.read_positions(keys_.data(), n, outs, found.data(), discount_of(env, info[3], n));
    keys_to_js(found.data(), n, keys);
    return env.Undefined();
  }

  // readLive(keys: Float64Array, start, want, outs (null skips), keysOut: Float64Array(want),
  //   discount?: Float32Array(want)) -> [consumed, got]
  // Reads the keys in place, converting each as the core asks for it: the cost is the keys
  // consumed, not the whole array.
  Napi::Value ReadLive(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& b = live();
    size_t n_keys = 0;
    const double* keys = static_cast<const double*>(typed_data_any(env, info[0], napi_float64_array, &n_keys, "keys"));
    const uint64_t start = to_count(info[1], "start");
    const uint64_t want = to_count(info[2], "want");
    if (start > n_keys) fail(ErrorKind::Range, "start is past the end of the keys");
    void* const* outs = columns(env, info[3], want, "out", true);
    auto* keys_out = static_cast<double*>(typed_data(env, info[4], napi_float64_array, want, "out.indices"));
    std::vector<uint64_t> found(want);
    uint64_t got = 0;
    const double* from = keys + start;
    const uint64_t consumed = b.read_live_with([from](uint64_t i) { return key_from_js(from[i]); }, n_keys - start, want,
                                               outs, found.data(), &got, discount_of(env, info[5], want));
    keys_to_js(found.data(), got, keys_out);
    Napi::Array r = Napi::Array::New(env, 2);
    r.Set(0u, Napi::Number::New(env, static_cast<double>(consumed)));
    r.Set(1u, Napi::Number::New(env, static_cast<double>(got)));
    return r;
  }

  // planArchive(meta) -> { fileBytes, headBytes, writeBytes }: starts an export of the buffer
  // as it is now. meta: { rngState: [4], seed, epoch?: { nEpochs, epoch, cursor, batchSize,
  // randomBatchSize, shuffle, dropLast, iterator, keys: Float64Array | null },
  // extensions?: [{ name: string, data: Uint8Array }] } (the core checks names and sizes)
  Napi::Value PlanArchive(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& b = live();
    if (!info[0].IsObject()) fail(ErrorKind::Archive, "planArchive needs a meta object");
    Napi::Object m = info[0].As<Napi::Object>();
    replaykit::ArchiveMeta meta;
    meta.seed = to_double(m.Get("seed"), "seed");
    Napi::Value rv = m.Get("rngState");
    if (!rv.IsArray() || rv.As<Napi::Array>().Length() != 4) fail(ErrorKind::Shape, "rngState must be 4 integers");
    for (uint32_t k = 0; k < 4; ++k)
      meta.rng_state[k] = static_cast<int32_t>(static_cast<int64_t>(to_double(rv.As<Napi::Array>().Get(k), "rngState")));
    Napi::Value ev = m.Get("epoch");
    if (ev.IsObject()) {
      Napi::Object e = ev.As<Napi::Object>();
      meta.has_epoch = true;
      replaykit::EpochRecord& r = meta.epoch;
      r.n_epochs = to_count(e.Get("nEpochs"), "nEpochs");
      r.epoch = to_count(e.Get("epoch"), "epoch");
      r.cursor = to_count(e.Get("cursor"), "cursor");
      r.batch_size = to_count(e.Get("batchSize"), "batchSize");
      r.random_batch_size = to_count(e.Get("randomBatchSize"), "randomBatchSize");
      r.flags = (to_bool(e.Get("shuffle"), "shuffle") ? replaykit::kEpochShuffle : 0u) |
                (to_bool(e.Get("dropLast"), "dropLast") ? replaykit::kEpochDropLast : 0u) |
                (to_bool(e.Get("iterator"), "iterator") ? replaykit::kEpochIterator : 0u);
      Napi::Value kv = e.Get("keys");
      if (!kv.IsNull() && !kv.IsUndefined()) {
        size_t n = 0;
        const double* keys = static_cast<const double*>(typed_data_any(env, kv, napi_float64_array, &n, "epoch keys"));
        meta.epoch_keys.assign(keys, keys + n);  // JS numbers, stored as they are
        r.flags |= replaykit::kEpochHasKeys;
      }
    }
    if (limiter_) {  // its counters as they are now, with the data
      meta.has_rate_limiter = true;
      meta.rate_limiter = replaykit::rate_limiter_record(*limiter_);
    }
    Napi::Value xv = m.Get("extensions");
    if (!xv.IsUndefined()) {
      if (!xv.IsArray()) fail(ErrorKind::Archive, "extensions must be an array");
      Napi::Array xs = xv.As<Napi::Array>();
      for (uint32_t i = 0; i < xs.Length(); ++i) {
        Napi::Value x = xs.Get(i);
        if (!x.IsObject()) fail(ErrorKind::Archive, "an extension must be { name, data }");
        replaykit::ArchiveExtension ext;
        ext.name = to_string(x.As<Napi::Object>().Get("name"), "an extension name");
        size_t n = 0;
        const auto* data = static_cast<const uint8_t*>(typed_data_any(env, x.As<Napi::Object>().Get("data"), napi_uint8_array, &n, "extension data"));
        ext.data.assign(data, data + n);  // a copy: the export outlives this call
        meta.extensions.push_back(std::move(ext));
      }
    }
    exporter_.reset();
    exporter_ = std::make_unique<replaykit::ArchiveExporter>(b, meta);
    Napi::Object o = Napi::Object::New(env);
    o.Set("fileBytes", static_cast<double>(exporter_->file_bytes()));
    o.Set("headBytes", static_cast<double>(exporter_->head_bytes()));
    o.Set("writeBytes", static_cast<double>(exporter_->write_bytes()));
    return o;
  }

  replaykit::ArchiveExporter& exporter() {
    live();
    if (!exporter_) fail(ErrorKind::State, "no archive planned");
    return *exporter_;
  }

  // exportChunk(dst: Uint8Array) -> [position, length] of the next bytes copied into dst, or
  // null once every section is out (the core checksums them on the way).
  Napi::Value ExportChunk(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& x = exporter();
    size_t cap = 0;
    auto* dst = static_cast<uint8_t*>(typed_data_any(env, info[0], napi_uint8_array, &cap, "dst"));
    uint64_t position = 0;
    const uint64_t n = x.next(dst, cap, &position);
    if (n == 0) return env.Null();
    Napi::Array r = Napi::Array::New(env, 2);
    r.Set(0u, Napi::Number::New(env, static_cast<double>(position)));
    r.Set(1u, Napi::Number::New(env, static_cast<double>(n)));
    return r;
  }

  // archiveHead() -> Uint8Array(headBytes): the header and section table, every checksum in
  // place; once every chunk is exported.
  Napi::Value ArchiveHead(const Napi::CallbackInfo& info) {
    const std::vector<uint8_t> head = exporter().head();
    Napi::Uint8Array out = Napi::Uint8Array::New(info.Env(), head.size());
    std::memcpy(out.Data(), head.data(), head.size());
    return out;
  }

  // checkArchiveHead(bytes: Uint8Array): the head read back from the written file; throws
  // ArchiveError unless it is archiveHead() with its checksums holding.
  Napi::Value CheckArchiveHead(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& x = exporter();
    size_t n = 0;
    auto* bytes = static_cast<const uint8_t*>(typed_data_any(env, info[0], napi_uint8_array, &n, "bytes"));
    x.check_head(bytes, n);
    return env.Undefined();
  }

  // endArchive(): the save is over (written or failed): drops the export, which lets the
  // pushes of other threads go on (an export freezes the buffer, buffer.h "Threads").
  Napi::Value EndArchive(const Napi::CallbackInfo& info) {
    exporter_.reset();
    return info.Env().Undefined();
  }

  // restore(map: ArchiveMap): the buffer's state and its rate limiter's, which must fit each
  // other's (checked before anything changes).
  Napi::Value Restore(const Napi::CallbackInfo& info) {
    auto& b = live();
    const replaykit::ArchiveView& v = archive_view_of(info.Env(), info[0]);
    replaykit::check_rate_limiter_fits(v, limiter_.get());
    b.restore(v);
    replaykit::restore_rate_limiter(v, limiter_.get());
    return info.Env().Undefined();
  }

  // The limiter starts afresh with the buffer (Reverb's Reset): samples wait for minSize again.
  Napi::Value Clear(const Napi::CallbackInfo& info) {
    live().clear();
    if (limiter_) limiter_->clear();
    return info.Env().Undefined();
  }

  replaykit::RateLimiter& limiter() {
    live();
    if (!limiter_) fail(ErrorKind::State, "this buffer has no rate limiter");
    return *limiter_;
  }

  // rateWait, rateCancel, rateRefund: buffer_calls.h
  Napi::Value RateWait(const Napi::CallbackInfo& info) {
    limiter();
    return rate_wait_call(info, waits_.get());
  }
  // Works after close (a timeout may fire then); no storage check.
  Napi::Value RateCancel(const Napi::CallbackInfo& info) { return rate_cancel_call(info, waits_.get()); }
  Napi::Value RateRefund(const Napi::CallbackInfo& info) { return rate_refund_call(info, limiter_.get()); }

  // rateInfo() -> the configuration and counters (rate_limiter_js.h), or null without a limiter.
  Napi::Value RateInfo(const Napi::CallbackInfo& info) {
    live();
    if (!limiter_) return info.Env().Null();
    return rate_info_to_js(info.Env(), *limiter_);
  }

  // rateSetEnabled(enabled: boolean)
  Napi::Value RateSetEnabled(const Napi::CallbackInfo& info) {
    limiter().set_enabled(to_bool(info[0], "enabled"));
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release(info.Env());
    return info.Env().Undefined();
  }

  Napi::Value Length(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(live().length()));
  }

  // The beta the next prioritized sample uses (the core's schedule).
  Napi::Value Beta(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), live().beta()); }

  // share() -> { buffer, process }: what a writer handle names the buffer by (shared.h).
  Napi::Value Share(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    live();
    if (!shared_id_) shared_id_ = share(buffer_, limiter_);
    Napi::Object o = Napi::Object::New(env);
    o.Set("buffer", static_cast<double>(shared_id_));
    o.Set("process", process_token());
    return o;
  }

  // stats() -> { totalPriority, minPriority, maxPriority, bytes, fileBytes }
  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& b = live();
    Napi::Object o = Napi::Object::New(env);
    o.Set("totalPriority", b.total_priority());
    o.Set("minPriority", b.min_priority());
    o.Set("maxPriority", b.max_priority());
    o.Set("bytes", static_cast<double>(b.storage().bytes()));
    o.Set("sideBytes", static_cast<double>(b.side_bytes()));
    o.Set("fileBytes", static_cast<double>(b.storage().file_bytes()));
    return o;
  }

  std::shared_ptr<replaykit::ReplayBuffer> buffer_;  // shared with writers in worker threads
  uint64_t shared_id_ = 0;                          // its id in the registry, once shared
  std::unique_ptr<replaykit::ArchiveExporter> exporter_;  // the archive being saved
  // The rate limiter (null without the option) and the JS waits on it from this environment.
  // Shared: worker threads' writers will reach the same limiter.
  std::shared_ptr<replaykit::RateLimiter> limiter_;
  std::unique_ptr<RateWaits> waits_;
  std::vector<uint64_t> keys_;  // scratch for key conversions
  std::vector<void*> outs_, burn_outs_;  // scratch: a call's output arrays (columns())
  int64_t accounted_ = 0;
  bool hooked_ = false;
};

}  // namespace

Napi::Function define_native_buffer(Napi::Env env) { return NativeBuffer::Define(env); }

}  // namespace replaykit_node
