#include "formats/gguf_keys.h"

#include "lib/base/error.h"

namespace mp {

const GgufValue& gguf_required(const GgufFile& f, const std::string& key) {
  const GgufValue* v = f.find(key);
  if (!v) fail_input(f.path(), "missing metadata key " + key);
  return *v;
}

int64_t gguf_integer(const GgufFile& f, const std::string& key, const GgufValue& v) {
  switch (v.type()) {
    case GgufType::UINT8: case GgufType::UINT16: case GgufType::UINT32: case GgufType::UINT64:
      return static_cast<int64_t>(v.as_uint());
    case GgufType::INT8: case GgufType::INT16: case GgufType::INT32: case GgufType::INT64:
      return v.as_int();
    default:
      fail_input(f.path(), key + " is " + gguf_type_name(v.type()) + ", expected an integer");
  }
}

}  // namespace mp
