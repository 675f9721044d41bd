#include "lib/runtime/kept_layers.h"

#include <unistd.h>

#include <algorithm>

#include "lib/arch/architecture.h"
#include "lib/base/heap_reuse.h"
#include "lib/runtime/model_ends.h"

namespace mp {

KeptLayers::KeptLayers(LlamaModel& model) : model_(model) {
  // Decoding is a steady loop: each step allocates and frees the same activations and grown KV
  // caches, which glibc would otherwise map and unmap every step. Served from the heap, tinymix-10M
  // Q4_K_M decoding took half the CPU seconds at batch 1 and 16 (docs/teacher-data.md).
  keep_freed_memory_for_reuse();
  int64_t budget = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE) / 4;
  const ModelSource& source = model.source();
  const RuntimeOptions& options = model.options();
  const int64_t head_bytes = model.config().vocab_size * model.config().hidden_size * c10::elementSize(options.dtype);
  if (head_bytes <= budget) {
    head_ = source.tensor_as(head_tensor_name(source), options.dtype).to(options.device);
    final_norm_ = source.tensor(hf_names::final_norm).to(options.device, options.dtype);
    budget -= head_bytes;
  }
  // Decoder layers share one shape, so the first one's size says how many fit.
  DecoderLayerWeights first = model.load_layer(0);
  int64_t layer_bytes = 0;
  for (const LayerTensor& t : architecture_of(model.config()).layer_tensors(model.config()))
    layer_bytes += first.tensor(t.slot()).nbytes();
  const int64_t kept = std::min(model.config().num_layers, budget / std::max<int64_t>(layer_bytes, 1));
  if (kept > 0) layers_.push_back(std::move(first));
  for (int64_t i = 1; i < kept; ++i) layers_.push_back(model.load_layer(i));
}

at::Tensor KeptLayers::forward(const at::Tensor& tokens, int64_t start_pos, KVCache& cache) {
  const ModelConfig& c = model_.config();
  cache.resize(c.num_layers);
  at::Tensor h = model_.embed(tokens);
  for (int64_t i = 0; i < c.num_layers; ++i)
    h = i < static_cast<int64_t>(layers_.size())
            ? decoder_layer_forward(c, layers_[i], model_.rope(), h, start_pos, &cache[i])
            : model_.run_layer(i, h, start_pos, &cache);
  return head_.defined() ? output_logits(c, h, final_norm_, head_) : model_.logits(h);
}

}  // namespace mp
