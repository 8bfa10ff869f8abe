// replaykit binding: what the module's objects share (per environment, so that each worker
// thread has its own), and the classes it defines.
#pragma once
#include <napi.h>

namespace replaykit_node {

constexpr int kErrorKinds = 6;  // replaykit::ErrorKind: Shape, Dtype, Range, State, Archive, Storage

// Owned by the environment (napi_set_instance_data): deleted when it is torn down.
struct AddonData {
  Napi::FunctionReference errors[kErrorKinds];  // indexed by ErrorKind
  Napi::FunctionReference archive_map;          // the ArchiveMap constructor
};

// The classes (buffer_object.cpp, archive_object.cpp).
Napi::Function define_native_buffer(Napi::Env env);
Napi::Function define_archive_map(Napi::Env env);

}  // namespace replaykit_node
