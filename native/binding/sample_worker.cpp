#include "sample_worker.h"

#include <optional>
#include <string>
#include <vector>

#include "buffer_calls.h"
#include "convert.h"
#include "error.h"
#include "errors.h"

namespace replaykit_node {

using replaykit::ErrorKind;

namespace {

class SampleWorker : public Napi::AsyncWorker {
 public:
  SampleWorker(Napi::Function done, std::shared_ptr<replaykit::ReplayBuffer> buffer, uint64_t n,
               const uint32_t* words, std::vector<void*> outs, double* keys, float* weights,
               std::optional<double> beta, Napi::Object hold)
      : Napi::AsyncWorker(done, "replaykit.sample"),
        buffer_(std::move(buffer)),
        n_(n),
        words_(words, words + 2 * n),
        outs_(std::move(outs)),
        keys_js_(keys),
        keys_(n),
        weights_(weights),
        beta_(beta),
        hold_(Napi::Persistent(hold)) {}

  // On a pool thread: no JS here.
  void Execute() override {
    try {
      buffer_->sample(n_, words_.data(), outs_.data(), keys_.data(), weights_, beta_);
    } catch (const replaykit::Error& e) {
      kind_ = e.kind();
      SetError(e.what());
    } catch (const std::bad_alloc&) {
      kind_ = ErrorKind::Range;
      SetError("out of memory");
    } catch (const std::exception& e) {
      kind_ = ErrorKind::State;
      SetError(std::string("replaykit internal error: ") + e.what());
    }
  }

  void OnOK() override {
    keys_to_js(keys_.data(), n_, keys_js_);
    Callback().Call({Env().Null()});
  }

  void OnError(const Napi::Error& e) override {
    Callback().Call({make_error(Env(), kind_, e.Message()).Value()});
  }

 private:
  std::shared_ptr<replaykit::ReplayBuffer> buffer_;  // alive until done, even if closed meanwhile
  uint64_t n_;
  std::vector<uint32_t> words_;
  std::vector<void*> outs_;
  double* keys_js_;
  std::vector<uint64_t> keys_;
  float* weights_;
  std::optional<double> beta_;
  Napi::ObjectReference hold_;  // the output arrays: not collected while the pool thread writes them
  ErrorKind kind_ = ErrorKind::State;
};

}  // namespace

Napi::Value queue_sample(const Napi::CallbackInfo& info, const std::shared_ptr<replaykit::ReplayBuffer>& buffer) {
  Napi::Env env = info.Env();
  const uint64_t n = to_count(info[0], "batch size");
  auto* words = static_cast<const uint32_t*>(typed_data(env, info[1], napi_uint32_array, 2 * n, "random words"));
  std::vector<void*> outs = columns_of(env, info[2], buffer->schema(), n, "out");
  auto* keys = static_cast<double*>(typed_data(env, info[3], napi_float64_array, n, "out.indices"));
  float* weights = nullptr;
  if (!info[4].IsUndefined() && !info[4].IsNull())
    weights = static_cast<float*>(typed_data(env, info[4], napi_float32_array, n, "out.weights"));
  std::optional<double> beta;
  if (!info[5].IsUndefined()) beta = to_double(info[5], "beta");
  if (!info[6].IsFunction()) replaykit::fail(ErrorKind::State, "sampleAsync needs a callback");
  Napi::Object hold = Napi::Object::New(env);
  hold.Set("outs", info[2]);
  hold.Set("keys", info[3]);
  hold.Set("weights", info[4]);
  auto* worker = new SampleWorker(info[6].As<Napi::Function>(), buffer, n, words, std::move(outs), keys, weights, beta, hold);
  worker->Queue();  // deleted by node-addon-api once done
  return env.Undefined();
}

}  // namespace replaykit_node
