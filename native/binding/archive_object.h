// replaykit binding: ArchiveMap, an archive file mapped read-only and parsed by the core.
#pragma once
#include <napi.h>

#include "archive.h"

namespace replaykit_node {

// The parsed view of an open ArchiveMap passed from JS: Error(Archive) for anything else,
// Error(State) for a closed one.
const replaykit::ArchiveView& archive_view_of(Napi::Env env, Napi::Value map);

}  // namespace replaykit_node
