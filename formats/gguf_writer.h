// Streaming GGUF v3 writer. Metadata and tensor descriptions are declared first (the header holds
// them all, with every tensor's offset), then each tensor's data is written in declared order, so a
// model never has to be in memory at once. The file appears atomically on commit().
#pragma once
#include <ATen/ATen.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "formats/gguf_file.h"
#include "lib/base/atomic_output.h"

namespace mp {

// The size of the file GgufWriter writes for this metadata and these tensors (name, dims, type and
// bytes set): header, every tensor's data, and the alignment padding after the header and each tensor.
uint64_t gguf_file_bytes(const std::vector<std::pair<std::string, GgufValue>>& metadata,
                         std::vector<GgufTensorInfo> tensors);

class GgufWriter {
 public:
  explicit GgufWriter(const std::string& path);

  // Declarations, all before the first tensor data. A "general.alignment" key (UINT32, a power of
  // two) changes the alignment from the default 32.
  void add_metadata(const std::string& key, GgufValue value);
  void add_tensor(const std::string& name, const std::vector<int64_t>& shape,
                  GgmlType type);  // shape outermost first

  // Data for the next declared tensor: already encoded bytes (exactly the declared size), or values
  // of the declared shape that are encoded here (importance: one weight per column, or nullptr).
  void write_tensor_bytes(const void* data, uint64_t bytes);
  void write_tensor(const at::Tensor& values, const float* importance = nullptr);

  void commit();  // every declared tensor must have been written

 private:
  void write_header();
  void pad_to_alignment();
  const GgufTensorInfo& next_tensor() const;

  AtomicFile out_;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<GgufTensorInfo> tensors_;
  std::set<std::string> keys_, names_;
  uint64_t alignment_ = kGgufDefaultAlignment, data_start_ = 0;
  bool header_written_ = false;
  size_t next_ = 0;
};

}  // namespace mp
