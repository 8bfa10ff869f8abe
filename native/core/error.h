// replaykit core: error kinds shared by the core and the binding.
// The core has no Node headers; the binding maps each kind to a JS error class.
#pragma once
#include <cstdio>
#include <stdexcept>
#include <string>

namespace replaykit {

// Storage: a file-system fault (a missing or unwritable directory, no space, a path in use).
enum class ErrorKind { Shape, Dtype, Range, State, Archive, Storage };

// Thrown for bad input or a call in the wrong state. Every function that throws
// it does so before mutating anything, so a rejected call leaves the buffer as it was.
class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

[[noreturn]] inline void fail(ErrorKind kind, const std::string& message) { throw Error(kind, message); }

// A double as messages show it: 17 significant digits, so that the value reads back exactly.
inline std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace replaykit
