#include "errors.h"

#include "addon.h"

namespace replaykit_node {

Napi::Error make_error(Napi::Env env, replaykit::ErrorKind kind, const std::string& message) {
  auto* data = env.GetInstanceData<AddonData>();
  const int k = static_cast<int>(kind);
  if (data && k >= 0 && k < kErrorKinds && !data->errors[k].IsEmpty()) {
    Napi::Object err = data->errors[k].New({Napi::String::New(env, message)});
    return Napi::Error(env, err);
  }
  return Napi::Error::New(env, message);
}

}  // namespace replaykit_node
