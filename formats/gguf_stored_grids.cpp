#include "formats/gguf_stored_grids.h"

#include "formats/gguf_file.h"
#include "formats/gguf_llama_names.h"
#include "lib/base/error.h"

namespace mp {

StoredGrids read_stored_grids(const std::string& path, const ModelConfig& config,
                              const std::map<std::string, GgmlType>& types) {
  if (!is_gguf_file(path)) fail_input(path, "not a GGUF file, so it stores no block parameters to keep");
  const GgufFile file(path);
  StoredGrids grids;
  for (const LlamaTensorName& name : llama_tensor_names(config)) {
    const auto wanted = types.find(name.hf);
    if (wanted == types.end() || !has_stored_block_params(wanted->second) || name.shape.size() != 2) continue;
    const GgufTensorInfo* info = file.find_tensor(name.gguf);
    if (!info || info->type != wanted->second || info->shape() != name.shape) continue;
    std::shared_ptr<const GgufBlockGrid> grid =
        block_grid_of_tensor_data(info->type, file.bytes(*info), name.shape[0], name.shape[1]);
    // The file holds llama's q/k rows in llama.cpp's order; the stored rows move with them.
    if (name.permute_heads > 0)
      grid = std::make_shared<GgufBlockGrid>(info->type, gguf_to_hf_rows(grid->stored(), name.permute_heads));
    grids[name.hf] = grid;
  }
  return grids;
}

at::Tensor StoredGridModel::tensor(const std::string& name) const {
  const auto it = grids_.find(name);
  return it == grids_.end() ? base_.tensor(name) : level_on_bound_grid(it->second, base_.tensor(name)).dequantize();
}

std::optional<QuantizedLinear> StoredGridModel::quantized_linear(const std::string& name) const {
  const auto it = grids_.find(name);
  if (it == grids_.end()) return base_.quantized_linear(name);
  return level_on_bound_grid(it->second, base_.tensor(name));
}

}  // namespace mp
