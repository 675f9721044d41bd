// How much each prunable unit of a model matters, measured on calibration text with the runtime's
// own forward (layers streamed, one at a time):
// - a decoder layer: its block influence, 1 - cos(input, output) of the hidden state averaged over
//   tokens (ShortGPT; the angular distance of "The Unreasonable Ineffectiveness of the Deeper
//   Layers" ranks the same way): a layer that barely turns the hidden state can go;
// - an FFN channel: the mean |activation| entering down_proj (Minitron);
// - a KV group: the summed L2 norms of its query heads' attention outputs (entering o_proj);
// - a hidden channel: the mean |value| of both RMSNorm outputs, summed over layers (Minitron's
//   embedding-channel score, which sees every layer's input).
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <vector>

#include "lib/runtime/llama_model.h"

namespace mp {

struct PruneImportance {
  std::vector<double> layer;      // [layers]
  std::vector<at::Tensor> ffn;    // per layer, [intermediate_size] f64
  std::vector<at::Tensor> group;  // per layer, [num_kv_heads] f64
  at::Tensor hidden;              // [hidden_size] f64
};

// windows: [samples, seqlen] int64 token windows (quant/calibration.h); run `batch` at a time.
// `on_layer` is told each finished layer.
PruneImportance measure_importance(LlamaModel& model, const at::Tensor& windows, int64_t batch,
                                   const std::function<void(int64_t layer)>& on_layer = {});

// The indices of the `keep` largest scores, in ascending order (the model's own order).
std::vector<int64_t> most_important(const at::Tensor& scores, int64_t keep);

}  // namespace mp
