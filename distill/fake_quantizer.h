// Quantization-aware distillation (distill-train --quantize TYPE, docs/qad.md): the student's
// weights are rounded on the grid of the file the run exports, in every forward pass, with
// straight-through gradients onto the f32 masters.
//
// Which tensor gets which grid is the exporter's decision, not a second copy of it: a GGUF type
// asks choose_tensor_type (the llama-quantize mix rules and the fallbacks for rows a block cannot
// hold), and a tensor is rounded by that type's own codec, encode then decode (formats/
// gguf_codecs.h), without an importance matrix, as `export --type` quantizes. A GPTQ target rounds
// the decoder linears with the affine grid's RTN (quant/rtn.h), as `quantize --method rtn` does.
// The grid parameters are either re-chosen from the current weights by the encoder's own search on
// every forward pass, or frozen: kept as a GGUF file (the GPTQ-in-grid start) stores them, with
// only the codes re-levelled (freeze_grids). Either way the export of the final masters holds
// exactly the codes their last fake quantization used.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "formats/gguf_export_plan.h"
#include "formats/gguf_stored_grids.h"
#include "formats/hf_config.h"
#include "quant/affine_grid.h"

namespace mp {

struct QuantizeTarget {
  std::string spec;         // as given: "gguf:Q2_K", "gptq:w4g128"
  bool gguf = true;         // else an HF GPTQ checkpoint
  GgufExportType gguf_type = parse_gguf_export_type("F32", false);
  AffineGridOptions gptq;   // bits and group size of a gptq target
};

// "gguf:TYPE" (every type `export --type` takes) or "gptq:wBITSgGROUP" (group -1: one per row).
// Anything else is bad input naming --quantize.
QuantizeTarget parse_quantize_target(const std::string& spec);

// A tensor the target stores on another grid than the one it asks for, and why (export's fallbacks).
struct QuantizeFallback {
  std::string tensor;  // HF name
  std::string wanted, used, why;
};

class FakeQuantizer {
 public:
  FakeQuantizer(QuantizeTarget target, const ModelConfig& config);

  const QuantizeTarget& target() const { return target_; }
  // The grid each quantized parameter gets ("q2_K", "w4g128"), by HF name; parameters not listed
  // stay f32.
  const std::map<std::string, std::string>& grids() const { return grid_names_; }
  const std::vector<QuantizeFallback>& fallbacks() const { return fallbacks_; }

  // Keeps the block parameters the GGUF file `path` stores for every tensor it holds in the type
  // this target gives it (a k-quant); round() then re-levels those tensors on them instead of
  // re-choosing them, or with per_block_better on better_grid_per_block(them, the weights): per
  // super-block the stored or the re-chosen parameters, whichever fits the current weights better.
  // A gptq target, or a file that is not GGUF, is bad input naming `option`.
  void freeze_grids(const std::string& path, const std::string& option, bool per_block_better = false);
  const StoredGrids& frozen_grids() const { return frozen_; }

  // The per-tensor types the GGUF file `path` stores (a size-targeted file's allocation), given to
  // `target.gguf_type` as its allocation: every tensor the file holds gets the file's type, in
  // training and in the export, instead of the mix's (distill-train --types-from-init). A target
  // that is not gguf:, or a file that is not GGUF, is bad input naming `option`.
  static void take_tensor_types(QuantizeTarget& target, const std::string& path, const std::string& option);

  // What the exported file holds for parameter `name` with values `w`: decode(encode(w)). No grad.
  at::Tensor round(const std::string& name, const at::Tensor& w) const;
  // round() in the forward pass, identity in the backward pass (straight-through estimator): the
  // value is exactly round(w), the gradient lands on w unchanged.
  at::Tensor apply(const std::string& name, const at::Tensor& w) const;

 private:
  struct GgufTensor {
    GgmlType type;
    float offset;  // what the GGUF value adds to the HF one (gemma's norms)
  };
  QuantizeTarget target_;
  ModelConfig config_;
  std::map<std::string, GgufTensor> gguf_tensors_;
  std::shared_ptr<const AffineGrid> gptq_grid_;
  std::map<std::string, std::string> grid_names_;
  std::vector<QuantizeFallback> fallbacks_;
  StoredGrids frozen_;
  bool per_block_better_ = false;
};

}  // namespace mp
