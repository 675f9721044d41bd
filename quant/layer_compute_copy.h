// The quantizers keep a layer's weights in f32 (what they solve and round), but run the
// calibration forwards in the compute type the user chose (--dtype): bf16 halves the bytes every
// product reads and runs about twice as fast on this kind of CPU.
#pragma once
#include <ATen/ATen.h>

#include "lib/runtime/decoder_layer.h"

namespace mp {

// A copy of the layer's tensors in `dtype`: every slot the family's layers have, so a family's own
// tensors (q/k norms, output norms) follow. The f32 originals stay what is quantized.
DecoderLayerWeights layer_in_compute_type(const ModelConfig& config, const DecoderLayerWeights& w, at::ScalarType dtype);

}  // namespace mp
