#include "schema.h"

#include <set>

#include "error.h"

namespace replaykit {

namespace {
constexpr size_t kMaxRowBytes = size_t(1) << 32;  // 4 GiB per field per row is already absurd
}

size_t dtype_size(Dtype d) {
  switch (d) {
    case Dtype::Float32: return 4;
    case Dtype::Float64: return 8;
    case Dtype::Int32: return 4;
    case Dtype::Int64: return 8;
    case Dtype::Uint8: return 1;
    case Dtype::Bool: return 1;
  }
  return 0;
}

const char* dtype_name(Dtype d) {
  switch (d) {
    case Dtype::Float32: return "float32";
    case Dtype::Float64: return "float64";
    case Dtype::Int32: return "int32";
    case Dtype::Int64: return "int64";
    case Dtype::Uint8: return "uint8";
    case Dtype::Bool: return "bool";
  }
  return "?";
}

bool dtype_from_code(int code, Dtype* out) {
  if (code < 0 || code >= kDtypeCount) return false;
  *out = static_cast<Dtype>(code);
  return true;
}

Field make_field(std::string name, Dtype dtype, std::vector<uint64_t> shape) {
  Field f;
  f.name = std::move(name);
  f.dtype = dtype;
  f.shape = std::move(shape);
  if (f.shape.size() > kMaxDims)
    fail(ErrorKind::Shape, "field '" + f.name + "': at most " + std::to_string(kMaxDims) + " dimensions, got " +
                               std::to_string(f.shape.size()));
  size_t elems = 1;
  for (uint64_t d : f.shape) {
    if (d == 0) fail(ErrorKind::Shape, "field '" + f.name + "': every dimension must be at least 1");
    if (d > kMaxRowBytes || elems > kMaxRowBytes / d)
      fail(ErrorKind::Shape, "field '" + f.name + "': shape is too large");
    elems *= static_cast<size_t>(d);
  }
  if (elems > kMaxRowBytes / dtype_size(dtype)) fail(ErrorKind::Shape, "field '" + f.name + "': shape is too large");
  f.elems = elems;
  f.row_bytes = elems * dtype_size(dtype);
  return f;
}

Schema::Schema(std::vector<Field> fields) : fields_(std::move(fields)) {
  if (fields_.empty()) fail(ErrorKind::Shape, "a schema needs at least one field");
  if (fields_.size() > kMaxFields)
    fail(ErrorKind::Shape, "a schema has at most " + std::to_string(kMaxFields) + " fields, got " +
                               std::to_string(fields_.size()));
  std::set<std::string> seen;
  for (const Field& f : fields_) {
    if (f.name.empty()) fail(ErrorKind::Shape, "a field name must not be empty");
    if (f.name.size() > kMaxNameBytes)
      fail(ErrorKind::Shape, "field '" + f.name.substr(0, 40) + "...': a name has at most " +
                                 std::to_string(kMaxNameBytes) + " bytes, got " + std::to_string(f.name.size()));
    if (!seen.insert(f.name).second) fail(ErrorKind::Shape, "duplicate field name '" + f.name + "'");
    if (row_bytes_ > kMaxRowBytes) fail(ErrorKind::Shape, "a transition is too large");
    row_bytes_ += f.row_bytes;
  }
}

}  // namespace replaykit
