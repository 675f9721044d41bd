// What a model file or directory holds, for `modelpress inspect`: tensors, metadata, totals.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mp {

struct InventoryTensor {
  std::string name, dtype, file;
  std::vector<int64_t> shape;
  uint64_t bytes = 0;
  int64_t elements = 0;
};

struct Inventory {
  std::string path, format;  // format: "safetensors", "hf-checkpoint", "gguf", ...
  std::vector<std::pair<std::string, std::string>> metadata;  // key, value rendered as text
  std::vector<InventoryTensor> tensors;
  uint64_t total_bytes() const;
  int64_t total_elements() const;
  nlohmann::ordered_json to_json() const;
  std::string to_text() const;
};

// Registered readers are tried in turn; a path nobody recognizes is a bad-input error.
Inventory inspect_path(const std::string& path);

}  // namespace mp
