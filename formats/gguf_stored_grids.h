// The block parameters a GGUF file stores, kept to re-level other weights on them: a
// quantization-aware run that starts from a GPTQ-in-grid file trains its codes on the super-block
// and sub-block scales GPTQ chose instead of re-choosing them (docs/qad.md, "frozen grid"), and
// its export writes those parameters with the final codes (GgufExportOptions::grid_from,
// `export --grid-from`).
#pragma once
#include <map>
#include <memory>
#include <string>

#include "formats/gguf_block_grid.h"
#include "formats/hf_config.h"
#include "lib/runtime/model_source.h"

namespace mp {

// Block grids bound to a file's stored parameters, by HF tensor name, rows in HF order.
using StoredGrids = std::map<std::string, std::shared_ptr<const GgufBlockGrid>>;

// The stored grid of every tensor of `config` that `types` lists (HF name -> the type wanted) and
// that the GGUF file `path` holds in exactly that type, when the type has a block grid. Tensors
// stored in another type, or not at all, are left out. A file that is not GGUF is bad input.
StoredGrids read_stored_grids(const std::string& path, const ModelConfig& config,
                              const std::map<std::string, GgmlType>& types);

// Per 256-value super-block, the better for `w` [rows, columns] of `stored`'s parameters and the
// ones the type's encoder chooses for w itself (what `export --type` would write): the block keeps
// the stored ones unless the encoder's give a strictly smaller sum of squared errors on w. While w
// still decodes exactly from the stored parameters (a GPTQ-in-grid file's own weights) every block
// keeps them, so a run starts at that file; as the weights move, blocks whose stored parameters
// went stale take the encoder's (docs/qad.md, "hybrid grid"). Deterministic in w.
std::shared_ptr<const GgufBlockGrid> better_grid_per_block(const std::shared_ptr<const GgufBlockGrid>& stored,
                                                           const at::Tensor& w);

// `base` with every tensor of `grids` levelled on its stored grid: quantized_linear() holds the
// codes and the grid (the GGUF exporter packs them as they are), tensor() what they decode to.
// Other tensors are base's.
class StoredGridModel : public ModelSource {
 public:
  // per_block_better: level each tensor on better_grid_per_block(its stored grid, its weights).
  StoredGridModel(const ModelSource& base, StoredGrids grids, bool per_block_better = false)
      : base_(base), grids_(std::move(grids)), per_block_better_(per_block_better) {}

  const ModelConfig& config() const override { return base_.config(); }
  bool has(const std::string& name) const override { return base_.has(name); }
  at::Tensor tensor(const std::string& name) const override;
  void release(const std::string& name) const override { base_.release(name); }
  std::optional<QuantizedLinear> quantized_linear(const std::string& name) const override;
  std::string quantization_method() const override { return "stored grid"; }
  Tokenizer tokenizer() const override { return base_.tokenizer(); }
  const std::string& path() const override { return base_.path(); }

 private:
  const ModelSource& base_;
  StoredGrids grids_;
  bool per_block_better_;
};

}  // namespace mp
