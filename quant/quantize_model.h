// Layer-by-layer post-training quantization of a Llama-family model. Calibration windows are
// embedded once; then for each decoder layer i, the inputs it sees are those produced by the
// already-quantized layers 0..i-1. The layer's linears are quantized group by group in the order
// data flows through them (true-sequential: q,k,v -> o -> gate,up -> down), each group's inputs
// captured with the previous groups already quantized, one Hessian shared by the linears that
// read the same input. With AWQ, each layer is first scaled (and clipped) on its float inputs. Only
// one layer's weights, the calibration activations and one group's Hessian are in memory
// (docs/quantization.md, "Memory"). Each finished layer is committed by the sink, so that an
// interrupted run can resume after it.
#pragma once
#include <nlohmann/json.hpp>

#include "formats/quantized_sink.h"
#include "lib/runtime/llama_model.h"
#include "quant/quantize_plan.h"

namespace mp {

struct LinearReport {
  std::string module;
  int bits = 0;
  int64_t group_size = 0;
  double relative_error = 0;  // ‖(W - Ŵ)X‖² / ‖WX‖² on the calibration inputs
  double damp = 0;            // GPTQ: the dampening finally used (fraction of mean diag H)
  double seconds = 0;
};

struct QuantizeReport {
  std::vector<LinearReport> linears;
  std::vector<std::string> skipped;
  std::vector<AwqGroupReport> awq;  // the α chosen for every scaling group, when AWQ ran
  double seconds = 0;
  int64_t calibration_tokens = 0;
  int64_t resumed_layers = 0;        // layers an interrupted run had finished
  int64_t stopped_after_layer = -1;  // >= 0: the run stopped there (ResumeOptions::stop_after_layer)
  // Timings vary from run to run: they are left out of what is written beside the model.
  nlohmann::ordered_json to_json(bool with_timings = true) const;
};

struct ResumeOptions {
  bool resume = false;            // continue the interrupted run the sink finds, if any
  int64_t stop_after_layer = -1;  // testing aid: stop once this layer is committed, as if killed
};

QuantizeReport quantize_model(const ModelSource& source, const QuantizePlan& plan, const RuntimeOptions& runtime,
                              QuantizedModelSink& sink, const ResumeOptions& resume = {});

}  // namespace mp
