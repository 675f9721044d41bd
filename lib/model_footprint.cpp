#include "lib/model_footprint.h"

#include <filesystem>
#include <set>

#include "formats/gguf_llama_names.h"
#include "formats/inventory.h"

namespace fs = std::filesystem;

namespace mp {

namespace {

const char* const kLinears[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                                "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};

int64_t product(const std::pair<int64_t, int64_t>& shape) { return shape.first * shape.second; }

// Does an inventory tensor store (part of) a decoder linear's weight? HF and GPTQ/AWQ tensors are
// named "<hf linear>.<weight|qweight|scales|qzeros|g_idx>", GGUF ones "blk.N.<part>.weight".
bool stores_linear_weight(const std::string& name, const std::set<std::string>& hf_prefixes,
                          const std::set<std::string>& gguf_names) {
  if (gguf_names.count(name)) return true;
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos || name.compare(dot, std::string::npos, ".bias") == 0) return false;
  return hf_prefixes.count(name.substr(0, dot)) > 0;
}

}  // namespace

double ModelFootprint::bits_per_weight() const {
  return parameters > 0 ? 8.0 * static_cast<double>(file_bytes) / static_cast<double>(parameters) : 0;
}

double ModelFootprint::linear_bits_per_weight() const {
  return linear_weights > 0 ? 8.0 * static_cast<double>(linear_bytes) / static_cast<double>(linear_weights) : 0;
}

ModelFootprint measure_footprint(const std::string& path, const ModelConfig& config) {
  ModelFootprint f;
  const int64_t h = config.hidden_size, v = config.vocab_size;
  int64_t per_layer_linear = 0;
  for (const char* linear : kLinears) per_layer_linear += product(config.linear_shape(linear));
  int64_t per_layer_bias = 0;
  if (config.qkv_bias) per_layer_bias += config.q_size() + 2 * config.kv_size();
  if (config.o_bias) per_layer_bias += h;
  if (config.mlp_bias) per_layer_bias += 2 * config.intermediate_size + h;
  f.linear_weights = config.num_layers * per_layer_linear;
  f.parameters = v * h * (config.tie_word_embeddings ? 1 : 2) + h +
                 config.num_layers * (per_layer_linear + per_layer_bias + 2 * h);

  std::set<std::string> hf_prefixes, gguf_names;
  for (const LlamaTensorName& n : llama_tensor_names(config)) {
    const std::string suffix = ".weight";
    const bool is_linear = n.layer >= 0 && n.hf.size() > suffix.size() &&
                           n.hf.compare(n.hf.size() - suffix.size(), suffix.size(), suffix) == 0 &&
                           n.hf.find("_proj.") != std::string::npos;
    if (!is_linear) continue;
    hf_prefixes.insert(n.hf.substr(0, n.hf.size() - suffix.size()));
    gguf_names.insert(n.gguf);
  }
  const Inventory inventory = inspect_path(path);
  std::set<std::string> files;
  for (const InventoryTensor& t : inventory.tensors) {
    files.insert(t.file);
    if (stores_linear_weight(t.name, hf_prefixes, gguf_names)) f.linear_bytes += t.bytes;
  }
  const fs::path root(path);
  for (const std::string& file : files) f.file_bytes += fs::file_size(fs::is_directory(root) ? root / file : root);
  return f;
}

}  // namespace mp
