// A Sink takes a model a decoder layer at a time, as the quantizer finishes each one, and writes
// one format. Adding a format adds a Sink; the methods never know which one they feed.
#pragma once
#include <map>
#include <string>

#include "lib/decoder_layer.h"
#include "lib/model_source.h"
#include "quant/quantized_linear.h"

namespace mp {

// Quantized linears of one layer by HF suffix ("self_attn.q_proj"); linears absent here are
// written in full precision from the layer's dense weights.
using QuantizedLinears = std::map<std::string, QuantizedLinear>;

class QuantizedModelSink {
 public:
  virtual ~QuantizedModelSink() = default;
  virtual void write_layer(int64_t index, const DecoderLayerWeights& dense, const QuantizedLinears& quantized) = 0;
  // Embeddings, final norm and head come from the source; `report` is kept beside the output.
  virtual void commit(const ModelSource& source, const nlohmann::json& report) = 0;
};

}  // namespace mp
