// A Sink takes a model a decoder layer at a time, as the quantizer finishes each one, and writes
// one format. Adding a format adds a Sink; the methods never know which one they feed.
// Each layer is committed as it is written, so that an interrupted run can be resumed after the
// last layer it finished (docs/quantization.md, "Resuming").
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/runtime/decoder_layer.h"
#include "lib/base/error.h"
#include "lib/runtime/model_source.h"
#include "quant/quantized_linear.h"

namespace mp {

class QuantizedModelSink {
 public:
  virtual ~QuantizedModelSink() = default;
  // Called once, before the first layer. `request` describes the options and inputs a resumed run
  // must share with the interrupted one. With `resume`, returns the records that run committed
  // with its finished layers, in layer order (empty: start at layer 0) and fails (bad input) when
  // its request differs; without, whatever an interrupted run left is discarded.
  virtual std::vector<nlohmann::json> begin(const nlohmann::json& request, bool resume) {
    (void)request, (void)resume;
    return {};
  }
  // The dense weights of a layer begin() reported as finished, exactly as the quantizer left them.
  virtual DecoderLayerWeights read_layer(int64_t index) const {
    fail_runtime("this output format cannot resume layer " + std::to_string(index));
  }
  // One quantized linear ("self_attn.q_proj") of layer `index`, handed over as soon as it is
  // solved, so that its codes need not stay in memory until the layer is written.
  virtual void add_linear(int64_t index, const std::string& suffix, const QuantizedLinear& q) = 0;
  // Writes layer `index`, its linears as added and everything else (norms, biases, linears kept in
  // full precision) from `dense`, and commits it together with `record` (the layer's report).
  virtual void write_layer(int64_t index, const DecoderLayerWeights& dense, const nlohmann::json& record) = 0;
  // The output stage (QuantizePlan::calibrate_output), after the last layer: each solved matrix of
  // the model's ends under its HF module name ("lm_head", "model.embed_tokens"), then the stage is
  // committed with its record as stage num_layers, so that a resume after it goes to commit().
  virtual void add_output_linear(const std::string& module, const QuantizedLinear& q) {
    (void)q;
    fail_runtime("this output format takes no calibrated " + module);
  }
  virtual void write_output_stage(const nlohmann::json& record) { (void)record; }
  // The run stops after the stages written so far, as if killed: they stay for a resume.
  virtual void keep_partial() {}
  // A directory that an interrupted run leaves for its resume, where the quantizer may keep what a
  // resume would otherwise recompute; empty when this format does not resume.
  virtual std::string resume_dir() const { return ""; }
  // Embeddings, final norm and head come from the source; `report` is kept beside the output.
  virtual void commit(const ModelSource& source, const nlohmann::json& report) = 0;
};

}  // namespace mp
