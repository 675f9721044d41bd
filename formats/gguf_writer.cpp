#include "formats/gguf_writer.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>

#include "formats/gguf_codecs.h"
#include "lib/base/error.h"

namespace mp {

namespace {

// llama.cpp keeps tensor names in a 64-byte buffer (GGML_MAX_NAME) and refuses longer ones.
constexpr size_t kMaxTensorName = 63;

template <class T>
void put(std::string& buf, T value) {
  buf.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

void put_string(std::string& buf, const std::string& s) {
  put<uint64_t>(buf, s.size());
  buf += s;
}

void put_value(std::string& buf, const GgufValue& v) {
  if (is_number_type(v.type()))
    return visit_number_type(v.type(), [&](auto zero) { put(buf, v.number_as<decltype(zero)>()); });
  switch (v.type()) {
    case GgufType::BOOL:
      put<uint8_t>(buf, v.as_bool() ? 1 : 0);
      break;
    case GgufType::STRING:
      put_string(buf, v.as_string());
      break;
    case GgufType::ARRAY:
      put(buf, static_cast<uint32_t>(v.element_type()));
      put<uint64_t>(buf, v.as_array().size());
      for (const auto& e : v.as_array()) put_value(buf, e);
      break;
    default:
      fail_runtime(std::string("cannot write a GGUF value of type ") + gguf_type_name(v.type()));
  }
}

uint64_t align_up(uint64_t n, uint64_t alignment) { return (n + alignment - 1) / alignment * alignment; }

}  // namespace

GgufWriter::GgufWriter(const std::string& path) : out_(path) {}

void GgufWriter::add_metadata(const std::string& key, GgufValue value) {
  if (header_written_) fail_runtime("GGUF metadata '" + key + "' declared after tensor data");
  if (!keys_.insert(key).second) fail_runtime("GGUF metadata key '" + key + "' declared twice");
  if (key == "general.alignment") {
    const uint64_t a = value.type() == GgufType::UINT32 ? value.as_uint() : 0;
    if (a == 0 || (a & (a - 1)) != 0)
      fail_runtime("general.alignment must be a non-zero power of two UINT32");
    alignment_ = a;
  }
  metadata_.emplace_back(key, std::move(value));
}

void GgufWriter::add_tensor(const std::string& name, const std::vector<int64_t>& shape, GgmlType type) {
  if (header_written_) fail_runtime("GGUF tensor '" + name + "' declared after tensor data");
  if (name.size() > kMaxTensorName)
    fail_runtime("GGUF tensor name '" + name + "' is longer than llama.cpp allows (63 bytes)");
  if (!names_.insert(name).second) fail_runtime("GGUF tensor '" + name + "' declared twice");
  GgufTensorInfo t;
  t.name = name;
  t.dims.assign(shape.rbegin(), shape.rend());
  t.type = type;
  for (int64_t d : shape)
    if (d < 0) fail_runtime("GGUF tensor '" + name + "' has a negative dimension");
  const int64_t row = t.dims.empty() ? 1 : t.dims[0];
  t.bytes = row == 0 ? 0 : ggml_row_bytes(type, row) * static_cast<uint64_t>(t.numel() / row);
  tensors_.push_back(std::move(t));
}

namespace {

// Sets each tensor's offset in the data section (every tensor padded to the alignment) and returns
// the data section's size.
uint64_t lay_out(std::vector<GgufTensorInfo>& tensors, uint64_t alignment) {
  uint64_t offset = 0;
  for (auto& t : tensors) {
    t.offset = offset;
    offset = align_up(offset + t.bytes, alignment);
  }
  return offset;
}

std::string header_bytes(const std::vector<std::pair<std::string, GgufValue>>& metadata,
                         const std::vector<GgufTensorInfo>& tensors) {
  std::string buf("GGUF");
  put<uint32_t>(buf, 3);
  put<uint64_t>(buf, tensors.size());
  put<uint64_t>(buf, metadata.size());
  for (const auto& [key, value] : metadata) {
    put_string(buf, key);
    put(buf, static_cast<uint32_t>(value.type()));
    put_value(buf, value);
  }
  for (const auto& t : tensors) {
    put_string(buf, t.name);
    put<uint32_t>(buf, static_cast<uint32_t>(t.dims.size()));
    for (int64_t d : t.dims) put<uint64_t>(buf, static_cast<uint64_t>(d));
    put(buf, static_cast<uint32_t>(t.type));
    put<uint64_t>(buf, t.offset);
  }
  return buf;
}

}  // namespace

uint64_t gguf_file_bytes(const std::vector<std::pair<std::string, GgufValue>>& metadata,
                         std::vector<GgufTensorInfo> tensors) {
  uint64_t alignment = kGgufDefaultAlignment;
  for (const auto& [key, value] : metadata)
    if (key == "general.alignment") alignment = value.as_uint();
  const uint64_t data = lay_out(tensors, alignment);
  return align_up(header_bytes(metadata, tensors).size(), alignment) + data;
}

void GgufWriter::write_header() {
  lay_out(tensors_, alignment_);
  const std::string buf = header_bytes(metadata_, tensors_);
  out_.write(buf.data(), buf.size());
  header_written_ = true;
  pad_to_alignment();
  data_start_ = out_.bytes_written();
}

void GgufWriter::pad_to_alignment() {
  static const char zeros[256] = {};
  uint64_t padding = align_up(out_.bytes_written(), alignment_) - out_.bytes_written();
  while (padding > 0) {
    const uint64_t chunk = std::min<uint64_t>(padding, sizeof zeros);
    out_.write(zeros, chunk);
    padding -= chunk;
  }
}

const GgufTensorInfo& GgufWriter::next_tensor() const {
  if (next_ >= tensors_.size()) fail_runtime("GGUF writer: more tensor data than declared tensors");
  return tensors_[next_];
}

void GgufWriter::write_tensor_bytes(const void* data, uint64_t bytes) {
  if (!header_written_) write_header();
  const GgufTensorInfo& t = next_tensor();
  if (bytes != t.bytes)
    fail_runtime("GGUF tensor '" + t.name + "' declared as " + std::to_string(t.bytes) + " bytes, given " +
                 std::to_string(bytes));
  out_.write(data, bytes);
  pad_to_alignment();
  ++next_;
}

void GgufWriter::write_tensor(const at::Tensor& values, const float* importance) {
  const GgufTensorInfo& t = next_tensor();
  if (values.sizes() != at::IntArrayRef(t.shape()))
    fail_runtime("GGUF tensor '" + t.name + "' given values of the wrong shape");
  const int64_t row = t.dims.empty() ? 1 : t.dims[0];
  std::vector<uint8_t> encoded(t.bytes);
  if (row > 0) {
    const uint64_t row_bytes = ggml_row_bytes(t.type, row);
    const at::Tensor rows = values.reshape({-1, row});
    // In f32 a chunk of rows at a time (~64 MiB), not the whole tensor: a bf16 embedding of a 1B
    // model would otherwise be converted whole (1 GiB beside its 0.5 GiB source).
    const int64_t chunk_rows = std::max<int64_t>(1, (int64_t{1} << 24) / row);
    for (int64_t first = 0; first < rows.size(0); first += chunk_rows) {
      const at::Tensor x = rows.narrow(0, first, std::min(chunk_rows, rows.size(0) - first)).to(at::kFloat).contiguous();
      const float* values_data = x.data_ptr<float>();
      uint8_t* out = encoded.data() + first * row_bytes;
      // Rows encode independently into their own bytes, so the file is the same for any thread count.
      // A block of rows is at least ~64k values: enough work to be worth a thread's wake-up.
      const int64_t rows_per_task = std::max<int64_t>(1, (int64_t{1} << 16) / row);
      at::parallel_for(0, x.size(0), rows_per_task, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r)
          quantize_row(t.type, values_data + r * row, out + r * row_bytes, row, importance);
      });
    }
  }
  write_tensor_bytes(encoded.data(), encoded.size());
}

void GgufWriter::commit() {
  if (!header_written_) write_header();
  if (next_ != tensors_.size())
    fail_runtime("GGUF writer: " + std::to_string(tensors_.size() - next_) +
                 " declared tensors were not written");
  out_.commit();
}

}  // namespace mp
