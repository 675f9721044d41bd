#include "formats/gguf_file.h"

#include <cstring>
#include <fstream>

#include "formats/gguf_rows.h"
#include "lib/base/error.h"

namespace mp {

namespace {

constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};
constexpr uint32_t kMaxDims = 4;     // GGML_MAX_DIMS
constexpr int kMaxArrayNesting = 8;  // deeper nesting is surely garbage, and would risk the stack
constexpr uint64_t kMinMetadataBytes = 8 + 4 + 1;        // empty key, type, smallest value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;  // empty name, n_dims = 0, type, offset

// Sequential reads from the mapped file; every read is bounds-checked and names what it was reading.
class Reader {
 public:
  explicit Reader(const MappedFile& file) : file_(file) {}

  uint64_t position() const { return pos_; }
  uint64_t remaining() const { return file_.size() - pos_; }
  [[noreturn]] void fail(const std::string& problem) const { fail_input(file_.path(), problem); }

  template <class T>
  T scalar(const std::string& what) {
    if (sizeof(T) > remaining())
      fail("truncated at offset " + std::to_string(pos_) + " (reading " + what + ")");
    T value;
    std::memcpy(&value, file_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  std::string string(const std::string& what) {
    const uint64_t start = pos_;
    const uint64_t length = scalar<uint64_t>(what + " length");
    if (length > remaining())
      fail(what + " at offset " + std::to_string(start) + " claims " + std::to_string(length) +
           " bytes, past the end of the file");
    std::string value(reinterpret_cast<const char*>(file_.data() + pos_), length);
    pos_ += length;
    return value;
  }

  // A count of items, each at least `min_bytes` long, must fit in the rest of the file.
  uint64_t count(const std::string& what, uint64_t min_bytes) {
    const uint64_t n = scalar<uint64_t>(what);
    if (n > remaining() / min_bytes)
      fail(what + " " + std::to_string(n) + " exceeds what the file can hold (" +
           std::to_string(remaining()) + " bytes left)");
    return n;
  }

 private:
  const MappedFile& file_;
  uint64_t pos_ = 0;
};

uint64_t min_value_bytes(GgufType type) {
  if (type == GgufType::STRING) return 8;
  if (type == GgufType::ARRAY) return 12;
  return gguf_scalar_bytes(type);
}

// `name` is the key, already quoted for messages.
GgufValue read_value(Reader& in, GgufType type, const std::string& name, int depth) {
  const std::string what = "value of " + name;
  if (is_number_type(type))
    return visit_number_type(
        type, [&](auto zero) { return GgufValue::number(type, in.scalar<decltype(zero)>(what)); });
  switch (type) {
    case GgufType::BOOL: {
      const uint8_t b = in.scalar<uint8_t>(what);
      if (b > 1) in.fail("BOOL " + what + " is " + std::to_string(b) + ", not 0 or 1");
      return GgufValue::boolean(b != 0);
    }
    case GgufType::STRING:
      return GgufValue::string(in.string(what));
    case GgufType::ARRAY: {
      if (depth >= kMaxArrayNesting)
        in.fail("arrays in " + name + " nested deeper than " + std::to_string(kMaxArrayNesting));
      const uint32_t element_id = in.scalar<uint32_t>("array type of " + name);
      if (!is_gguf_type(element_id))
        in.fail("array " + name + " has unknown element type " + std::to_string(element_id));
      const auto element = static_cast<GgufType>(element_id);
      const uint64_t n = in.count("element count of array " + name, min_value_bytes(element));
      std::vector<GgufValue> elements;
      elements.reserve(n);
      for (uint64_t i = 0; i < n; ++i) elements.push_back(read_value(in, element, name, depth + 1));
      return GgufValue::array(element, std::move(elements));
    }
    default:
      break;
  }
  in.fail("unknown value type");
}

// Element count and byte size of a tensor, with every product checked for overflow.
void size_tensor(const Reader& in, GgufTensorInfo& t) {
  const GgmlTypeInfo& type = ggml_type_info(t.type);
  // extent: the product without zero dimensions, which a tensor of that shape must also represent
  // (fuzz_gguf: [0, 2^62, 2^40] has no elements, but LibTorch refuses the shape).
  int64_t numel = 1, extent = 1;
  for (int64_t d : t.dims)
    if (__builtin_mul_overflow(numel, d, &numel) || __builtin_mul_overflow(extent, d == 0 ? 1 : d, &extent))
      in.fail("tensor " + quote_gguf_name(t.name) + " has dimensions whose product overflows");
  const int64_t row = t.dims.empty() ? 1 : t.dims[0];
  if (row % type.block_size != 0)
    in.fail("tensor " + quote_gguf_name(t.name) + " has rows of " + std::to_string(row) +
            " values, not a multiple of the " + type.name + " block size " + std::to_string(type.block_size));
  uint64_t bytes;
  if (__builtin_mul_overflow(static_cast<uint64_t>(numel / type.block_size),
                             static_cast<uint64_t>(type.block_bytes), &bytes))
    in.fail("tensor " + quote_gguf_name(t.name) + " has a byte size that overflows");
  t.bytes = bytes;
}

}  // namespace

std::string quote_gguf_name(const std::string& name) {
  std::string text = GgufValue::string(name).to_text();
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return "'" + text + "'";
}

std::vector<int64_t> GgufTensorInfo::shape() const { return {dims.rbegin(), dims.rend()}; }

int64_t GgufTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

bool is_gguf_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4];
  return in.read(magic, 4) && std::memcmp(magic, kMagic, 4) == 0;
}

GgufFile::GgufFile(const std::string& path) : file_(std::make_shared<MappedFile>(path)) {
  Reader in(*file_);
  if (file_->size() < 4 || std::memcmp(file_->data(), kMagic, 4) != 0) in.fail("not a GGUF file (bad magic)");
  in.scalar<uint32_t>("magic");
  // Version 1 counted with 32-bit integers; 2 and 3 share this layout (3 only adds big-endian files,
  // which announce themselves by a byte-swapped version and are refused here).
  version_ = in.scalar<uint32_t>("version");
  if (version_ != 2 && version_ != 3)
    in.fail("unsupported GGUF version " + std::to_string(version_) + " (modelpress reads versions 2 and 3)");
  const uint64_t n_tensors = in.scalar<uint64_t>("tensor count");
  const uint64_t n_metadata = in.count("metadata count", kMinMetadataBytes);
  if (n_tensors > in.remaining() / kMinTensorInfoBytes)
    in.fail("tensor count " + std::to_string(n_tensors) + " exceeds what the file can hold");

  for (uint64_t i = 0; i < n_metadata; ++i) {
    std::string key = in.string("metadata key");
    const std::string quoted = quote_gguf_name(key);  // once: real files have thousands of names
    const uint32_t type_id = in.scalar<uint32_t>("type of " + quoted);
    if (!is_gguf_type(type_id))
      in.fail("metadata " + quoted + " has unknown value type " + std::to_string(type_id));
    GgufValue value = read_value(in, static_cast<GgufType>(type_id), quoted, 0);
    if (!key_index_.emplace(key, metadata_.size()).second)
      in.fail("duplicate metadata key " + quoted);
    metadata_.emplace_back(std::move(key), std::move(value));
  }
  if (const GgufValue* a = find("general.alignment")) {
    if (a->type() != GgufType::UINT32 || a->as_uint() == 0 || (a->as_uint() & (a->as_uint() - 1)) != 0)
      in.fail("general.alignment must be a non-zero power of two stored as UINT32, got " +
              std::string(gguf_type_name(a->type())) + " " + a->to_text());
    alignment_ = a->as_uint();
  }

  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    t.name = in.string("tensor name");
    const std::string quoted = quote_gguf_name(t.name);
    const uint32_t n_dims = in.scalar<uint32_t>("dimension count of " + quoted);
    if (n_dims > kMaxDims)
      in.fail("tensor " + quoted + " has " + std::to_string(n_dims) + " dimensions (at most " +
              std::to_string(kMaxDims) + ")");
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim = in.scalar<uint64_t>("dimensions of " + quoted);
      if (dim > static_cast<uint64_t>(INT64_MAX))
        in.fail("tensor " + quoted + " has dimension " + std::to_string(dim) + " out of range");
      t.dims.push_back(static_cast<int64_t>(dim));
    }
    const uint32_t type_id = in.scalar<uint32_t>("ggml type of " + quoted);
    if (!find_ggml_type(type_id))
      in.fail("tensor " + quoted + " has unknown ggml type " + std::to_string(type_id));
    t.type = static_cast<GgmlType>(type_id);
    t.offset = in.scalar<uint64_t>("data offset of " + quoted);
    size_tensor(in, t);
    if (!tensor_index_.emplace(t.name, tensors_.size()).second)
      in.fail("duplicate tensor name " + quoted);
    tensors_.push_back(std::move(t));
  }

  data_offset_ = (in.position() + alignment_ - 1) / alignment_ * alignment_;
  // A file without tensors may end right after its metadata, without padding.
  const uint64_t data_size = data_offset_ <= file_->size() ? file_->size() - data_offset_ : 0;
  for (const auto& t : tensors_) {
    if (t.offset % alignment_ != 0)
      in.fail("tensor " + quote_gguf_name(t.name) + " data offset " + std::to_string(t.offset) +
              " is not a multiple of the alignment " + std::to_string(alignment_));
    if (t.offset > data_size || t.bytes > data_size - t.offset)
      in.fail("tensor " + quote_gguf_name(t.name) + " data (" + std::to_string(t.bytes) + " bytes at offset " +
              std::to_string(t.offset) + ") runs past the end of the data section (" +
              std::to_string(data_size) + " bytes)");
  }
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata_[it->second].second;
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

at::Tensor GgufFile::tensor(const GgufTensorInfo& info) const { return gguf_decode(*this, info, at::kFloat); }

}  // namespace mp
