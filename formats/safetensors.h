// safetensors: an 8-byte little-endian header length, a JSON header, then raw tensor bytes.
// The reader maps the file and validates every header entry before anything is read; tensors are
// materialized one at a time, on request.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "formats/dtype.h"
#include "lib/base/atomic_output.h"
#include "lib/base/mapped_file.h"

namespace mp {

struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte span inside the data section
  uint64_t bytes() const { return end - begin; }
  int64_t numel() const;
};

using Metadata = std::map<std::string, std::string>;

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);

  const std::string& path() const { return file_->path(); }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // in file order
  const TensorInfo* find(const std::string& name) const;
  const Metadata& metadata() const { return metadata_; }
  const uint8_t* bytes(const TensorInfo& info) const { return data_ + info.begin; }
  // A CPU tensor viewing the mapped bytes (read-only: clone or convert before writing to it).
  at::Tensor tensor(const TensorInfo& info) const;
  // Drops the tensor's pages from this process's memory (they are re-read if touched again):
  // streaming a model layer by layer keeps only the current layer resident.
  void release(const TensorInfo& info) const;

 private:
  std::shared_ptr<MappedFile> file_;
  const uint8_t* data_ = nullptr;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  Metadata metadata_;
};

// A checkpoint directory: model.safetensors, or shards listed in model.safetensors.index.json.
class SafetensorsCheckpoint {
 public:
  explicit SafetensorsCheckpoint(const std::string& dir);

  bool has(const std::string& name) const { return where_.count(name) > 0; }
  at::Tensor tensor(const std::string& name) const;  // read-only view, see SafetensorsFile
  void release(const std::string& name) const;
  const TensorInfo& info(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted
  const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return files_; }

 private:
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, std::pair<const SafetensorsFile*, const TensorInfo*>> where_;
};

// Streaming writer: the layout is declared up front (the header comes first), then each tensor's
// bytes are written in declared order, so a model never has to be in memory at once.
class SafetensorsWriter {
 public:
  SafetensorsWriter(const std::string& path, std::vector<TensorInfo> layout,
                    const Metadata& metadata = {});
  void write(const at::Tensor& tensor);  // the next declared tensor; dtype and shape must match
  void commit();

 private:
  AtomicFile out_;
  std::vector<TensorInfo> layout_;
  size_t next_ = 0;
};

TensorInfo describe(const std::string& name, const at::Tensor& tensor);
// Convenience for small outputs: write the given tensors (in order) in one call.
void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const Metadata& metadata = {});

}  // namespace mp
