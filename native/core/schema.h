// replaykit core: the schema of a transition (named fields, each with a dtype and a shape).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace replaykit {

// Codes are part of the binding's contract and of the archive format: never renumber.
enum class Dtype : uint8_t { Float32 = 0, Float64 = 1, Int32 = 2, Int64 = 3, Uint8 = 4, Bool = 5 };
constexpr int kDtypeCount = 6;
// Limits of a schema, enforced when it is made so that every buffer can be archived and its
// archive loaded (the archive's records have room for exactly these). The binding exports them.
constexpr size_t kMaxDims = 8;           // dimensions of one field's row (FieldRecord::shape)
constexpr size_t kMaxFields = 1024;      // fields of a schema
constexpr size_t kMaxNameBytes = 65535;  // UTF-8 bytes of a field name (FieldRecord::name_length)

size_t dtype_size(Dtype d);
const char* dtype_name(Dtype d);
bool dtype_from_code(int code, Dtype* out);

struct Field {
  std::string name;
  Dtype dtype;
  std::vector<uint64_t> shape;  // empty = scalar
  size_t elems = 1;             // product of shape
  size_t row_bytes = 0;         // elems * dtype_size(dtype)
};

class Schema {
 public:
  Schema() = default;
  // Throws Error(Shape) for an empty schema, more than kMaxFields fields, a duplicate or empty
  // name, a name longer than kMaxNameBytes, or a row too large.
  explicit Schema(std::vector<Field> fields);
  const std::vector<Field>& fields() const { return fields_; }
  size_t size() const { return fields_.size(); }
  const Field& operator[](size_t i) const { return fields_[i]; }
  size_t row_bytes() const { return row_bytes_; }  // all fields of one transition

 private:
  std::vector<Field> fields_;
  size_t row_bytes_ = 0;
};

// Builds a field, computing elems and row_bytes with overflow checks (Error(Shape) on overflow).
Field make_field(std::string name, Dtype dtype, std::vector<uint64_t> shape);

}  // namespace replaykit
