#include "lib/runtime/model_source.h"

#include "lib/arch/architecture.h"

namespace mp {

std::string hf_names::layer(int64_t i, const std::string& suffix) {
  return "model.layers." + std::to_string(i) + "." + suffix;
}

void release_layer_pages(const ModelSource& source, int64_t i) {
  const ModelConfig& c = source.config();
  for (const LayerTensor& t : architecture_of(c).layer_tensors(c)) source.release(hf_names::layer(i, t.hf));
}

}  // namespace mp
