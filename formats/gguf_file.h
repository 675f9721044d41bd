// GGUF, llama.cpp's model file: a header, typed metadata key/values, tensor descriptions, then the
// tensor data, each tensor at an aligned offset. The reader maps the file and validates all of it
// before anything is used; tensors are dequantized one at a time, on request.
// Layout (little-endian): "GGUF", version u32, tensor count u64, metadata count u64; metadata as
// (string key, u32 type, value); tensor infos as (string name, u32 n_dims, u64 dims[n_dims] innermost
// first, u32 ggml type, u64 offset into the data section); padding to the alignment; data.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "formats/gguf_types.h"
#include "formats/gguf_value.h"
#include "lib/base/mapped_file.h"

namespace mp {

constexpr uint64_t kGgufDefaultAlignment = 32;

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> dims;  // as stored: innermost (contiguous) dimension first, like ggml's ne
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;  // from the start of the data section
  uint64_t bytes = 0;
  std::vector<int64_t> shape() const;  // PyTorch order: outermost first
  int64_t numel() const;
};

// True when the file starts with the GGUF magic (false for short or unreadable files).
bool is_gguf_file(const std::string& path);

// A name from a GGUF file quoted for a one-line message: control characters escaped, long names cut.
std::string quote_gguf_name(const std::string& name);

class GgufFile {
 public:
  explicit GgufFile(const std::string& path);  // fails with "<path>: <problem>" on any defect

  const std::string& path() const { return file_->path(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // where the data section starts

  const std::vector<std::pair<std::string, GgufValue>>& metadata() const {
    return metadata_;
  }  // in file order
  const GgufValue* find(const std::string& key) const;
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }  // in file order
  const GgufTensorInfo* find_tensor(const std::string& name) const;

  const uint8_t* bytes(const GgufTensorInfo& info) const {
    return file_->data() + data_offset_ + info.offset;
  }
  // The tensor as float32, dequantized, shaped outermost first.
  at::Tensor tensor(const GgufTensorInfo& info) const;

 private:
  std::shared_ptr<MappedFile> file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = kGgufDefaultAlignment, data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::map<std::string, size_t> key_index_, tensor_index_;
  std::vector<GgufTensorInfo> tensors_;
};

}  // namespace mp
