#include "lib/eval/model_footprint.h"

#include <filesystem>
#include <functional>
#include <numeric>
#include <set>

#include "formats/gguf_llama_names.h"
#include "formats/inventory.h"
#include "lib/arch/architecture.h"
#include "lib/runtime/decoder_layer.h"
#include "lib/runtime/model_source.h"

namespace fs = std::filesystem;

namespace mp {

namespace {

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
  int64_t per_layer_linear = 0, per_layer = 0;
  for (const auto& group : decoder_linear_groups(config))
    for (const auto& linear : group.linears) {
      const auto [out, in] = config.linear_shape(linear);
      per_layer_linear += out * in;
    }
  for (const LayerTensor& t : architecture_of(config).layer_tensors(config))
    per_layer += std::accumulate(t.shape.begin(), t.shape.end(), int64_t{1}, std::multiplies<>());
  f.linear_weights = config.num_layers * per_layer_linear;
  f.parameters = v * h * (config.tie_word_embeddings ? 1 : 2) + h + config.num_layers * per_layer;

  // The decoder linears by their HF prefix ("model.layers.3.self_attn.q_proj") and GGUF name.
  std::set<std::string> hf_prefixes, gguf_names;
  for (int64_t i = 0; i < config.num_layers; ++i)
    for (const auto& group : decoder_linear_groups(config))
      for (const auto& linear : group.linears) hf_prefixes.insert(hf_names::layer(i, linear));
  for (const LlamaTensorName& n : llama_tensor_names(config)) {
    const size_t dot = n.hf.rfind('.');
    if (n.hf.compare(dot, std::string::npos, ".weight") == 0 && hf_prefixes.count(n.hf.substr(0, dot)))
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
