#include "lib/runtime/kept_layers.h"

#include <unistd.h>

#include "lib/arch/architecture.h"

namespace mp {

KeptLayers::KeptLayers(LlamaModel& model) : model_(model) {
  const int64_t budget = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE) / 4;
  int64_t used = 0;
  for (int64_t i = 0; i < model.config().num_layers; ++i) {
    DecoderLayerWeights w = model.load_layer(i);
    for (const LayerTensor& t : architecture_of(model.config()).layer_tensors(model.config()))
      used += w.tensor(t.slot()).nbytes();
    if (used > budget) break;
    layers_.push_back(std::move(w));
  }
}

at::Tensor KeptLayers::forward(const at::Tensor& tokens, int64_t start_pos, KVCache& cache) {
  const ModelConfig& c = model_.config();
  cache.resize(c.num_layers);
  at::Tensor h = model_.embed(tokens);
  for (int64_t i = 0; i < c.num_layers; ++i)
    h = i < static_cast<int64_t>(layers_.size())
            ? decoder_layer_forward(c, layers_[i], model_.rope(), h, start_pos, &cache[i])
            : model_.run_layer(i, h, start_pos, &cache);
  return model_.logits(h);
}

}  // namespace mp
