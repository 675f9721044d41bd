// AWQ's activation-aware scale search (Lin et al. 2023, "search" step of Sec. 3.2). A scaling
// group is a set of linears reading one input, plus the operation that produces that input: an
// RMSNorm or a linear whose output rows can absorb a per-channel division. Multiplying the
// linears' input columns by s and dividing the previous operation by s leaves the float model
// unchanged but moves quantization error away from the channels with large activations.
// s = mean|x|^α (or, in the "duo" form, mean|x|^α / mean|ŵ|^(1−α)), normalized so that
// max(s)·min(s) = 1; α is searched on a grid, the loss being the MSE of the block output with
// the scaled, quantized weights.
#pragma once
#include <functional>
#include <memory>

#include "lib/arch/architecture.h"
#include "lib/runtime/decoder_layer.h"
#include "quant/grid.h"

namespace mp {

// The grid of a linear by HF suffix, or null when it stays in full precision.
using GridForLinear = std::function<std::shared_ptr<const Grid>(const std::string& suffix)>;

// The groups of this config's architecture (lib/arch/), in the order data flows through a layer.
const std::vector<ScalingGroup>& awq_scaling_groups(const ModelConfig& config);

struct AwqScaleOptions {
  int grid = 20;             // α = i / grid for i = 0 .. grid−1 (grid = 1: α = 0, plain RTN)
  bool duo_scaling = false;  // divide by the normalized weight magnitude^(1−α)
};

struct ScaleChoice {
  at::Tensor scales;        // f32 in the previous operation's output space
  double alpha = 0;
  double loss = 0;          // block output MSE at the chosen α
  double loss_at_zero = 0;  // ... and at α = 0 (plain RTN)
};

// inputs: the group's captured input [N, T, in], as the unscaled model computes it, in the compute
// type the block is run in (the f32 weights are rounded to it for the search's forwards).
ScaleChoice search_scales(const ModelConfig& config, const DecoderLayerWeights& w, RotaryEmbedding& rope,
                          const ScalingGroup& group, const at::Tensor& inputs, const GridForLinear& grid_for,
                          const AwqScaleOptions& options);

// Divides the previous operation by s and multiplies the linears' input columns by it.
void fold_scales(const ModelConfig& config, DecoderLayerWeights& w, const ScalingGroup& group, const at::Tensor& scales);

// What the group's linears see after folding: inputs / s (s spread over the query heads for o_proj),
// in the inputs' dtype.
at::Tensor scaled_inputs(const ModelConfig& config, const ScalingGroup& group, const at::Tensor& inputs,
                         const at::Tensor& scales);

}  // namespace mp
