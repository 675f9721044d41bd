// Decoding runs every layer once per token, where converting a quantized layer again each step
// costs more than the step (tinymix-10M Q4_K_M decoded at 6 instead of 63 tokens/s). So the layers
// converted for the prompt are kept for the whole generation, as many as fit in a quarter of the
// machine's memory, after the LM head (converted whole and kept when it fits, rather than converted
// a chunk at a time at every step as eval's LlamaModel::logits does); layers past that are converted on each step, as eval does, so a model whose
// f32 form does not fit still runs (docs/performance.md, "Memory of eval").
#pragma once
#include <vector>

#include "lib/runtime/llama_model.h"

namespace mp {

class KeptLayers {
 public:
  explicit KeptLayers(LlamaModel& model);
  LlamaModel& model() { return model_; }
  // Logits [B, T, vocab] of tokens [B, T] at cache slots start_pos.., appending to the cache.
  at::Tensor forward(const at::Tensor& tokens, int64_t start_pos, KVCache& cache);

 private:
  LlamaModel& model_;
  std::vector<DecoderLayerWeights> layers_;
  at::Tensor head_, final_norm_;  // undefined when the head did not fit: model().logits()
};

}  // namespace mp
