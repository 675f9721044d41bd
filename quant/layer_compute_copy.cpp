#include "quant/layer_compute_copy.h"

#include "lib/arch/architecture.h"

namespace mp {

DecoderLayerWeights layer_in_compute_type(const ModelConfig& config, const DecoderLayerWeights& w, at::ScalarType dtype) {
  DecoderLayerWeights cast = w;
  for (const LayerTensor& t : architecture_of(config).layer_tensors(config)) {
    at::Tensor& slot = cast.tensor(t.slot());
    if (slot.defined()) slot = slot.to(dtype);
  }
  return cast;
}

}  // namespace mp
