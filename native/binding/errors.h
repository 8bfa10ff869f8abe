// replaykit binding: the one error guard. Every exported method and constructor runs inside
// guard(), which turns each C++ exception into a JS one: a core Error (the binding's own
// checks throw them too) becomes an instance of the JS class registered for its kind.
#pragma once
#include <napi.h>

#include <new>
#include <string>

#include "error.h"

namespace replaykit_node {

// The JS error for a core error kind: the class given to setErrorClasses, or Error before.
Napi::Error make_error(Napi::Env env, replaykit::ErrorKind kind, const std::string& message);

template <typename Fn>
auto guard(Napi::Env env, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const replaykit::Error& e) {
    throw make_error(env, e.kind(), e.what());
  } catch (const std::bad_alloc&) {
    throw make_error(env, replaykit::ErrorKind::Range, "out of memory");
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("replaykit internal error: ") + e.what());
  }
}

// Base of every wrapped class T: its methods and accessors are registered as
// &T::template method<&T::Name>, which runs Name inside guard().
template <typename T>
class Guarded {
 public:
  template <Napi::Value (T::*M)(const Napi::CallbackInfo&)>
  Napi::Value method(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&] { return (static_cast<T*>(this)->*M)(info); });
  }
};

// The same for a module-level function.
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] { return F(info); });
}

}  // namespace replaykit_node
