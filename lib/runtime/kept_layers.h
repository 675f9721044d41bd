// A model's decoder layers held converted for a whole generation.
// Decoding runs every layer once per token, where converting a quantized layer again each step
// costs more than the step (tinymix-10M Q4_K_M decoded at 6 instead of 63 tokens/s). So the layers
// are converted once and kept, as many as fit in a quarter of the machine's memory; layers past that
// are converted on each step, as eval does, so a model whose f32 form does not fit still runs
// (docs/performance.md, "Memory of eval").
#pragma once
#include <vector>

#include "lib/runtime/llama_model.h"

namespace mp {

class KeptLayers {
 public:
  explicit KeptLayers(LlamaModel& model);
  // Logits [1, T, vocab] of tokens [1, T] at positions start_pos.., appending their keys and values to `cache`.
  at::Tensor forward(const at::Tensor& tokens, int64_t start_pos, KVCache& cache);

 private:
  LlamaModel& model_;
  std::vector<DecoderLayerWeights> layers_;
};

}  // namespace mp
