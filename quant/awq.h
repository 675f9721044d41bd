// The AWQ step of one decoder layer (Lin et al. 2023, as AutoAWQ runs it): search and fold the
// scales of every scaling group in data-flow order, then search the clipping range of every
// linear but q/k. The layer stays a float layer (function unchanged up to the clipping); the
// driver's rounding (RTN through the grid, or GPTQ) quantizes it afterwards.
#pragma once
#include <map>
#include <nlohmann/json.hpp>

#include "quant/awq_clip.h"
#include "quant/awq_scale.h"

namespace mp {

struct AwqOptions {
  AwqScaleOptions scale;
  // The scale and clip searches read every linear input of a layer at once, in f32 (down_proj's
  // alone is tokens × ffn × 4 bytes: 8 GiB for 128 × 2048 tokens of a 1B model). AutoAWQ searches on
  // 128 × 512 tokens; the rounding that follows (RTN or GPTQ) still sees every window.
  int64_t search_tokens = 128 * 512;  // whole windows from the first, at least one; 0: all
  bool clip = true;
  AwqClipOptions clipping;
};

struct AwqGroupReport {
  std::string group;  // "model.layers.3 qkv"
  double alpha = 0;
  double loss = 0, loss_at_zero = 0;
};

// inputs: the captured inputs of the layer's linears by capture name ("attn_in", "o_in", ...),
// [N, T, in] each, as the unscaled layer computes them. Returns the chosen α per group.
std::vector<AwqGroupReport> apply_awq(const ModelConfig& config, DecoderLayerWeights& w, RotaryEmbedding& rope,
                                      std::map<std::string, at::Tensor> inputs, const GridForLinear& grid_for,
                                      const AwqOptions& options, const std::string& layer_name);

nlohmann::ordered_json to_json(const AwqGroupReport& report);

// The calibration windows the searches read: the first ⌈search_tokens / T⌉ of states [N, T, hidden]
// (or of the calibration tokens [N, T]).
at::Tensor awq_search_states(const at::Tensor& states, int64_t search_tokens);

}  // namespace mp
