// The quantizer writing a GGUF file directly (quantize --to gguf): GPTQ solves each linear on the
// ggml block grid of the type the export mix gives it (formats/gguf_block_grid.h), and the file is
// then written by the exporter, which keeps those blocks as solved. The output matrix (or the tied
// embedding serving as it) and an untied embedding come from the quantizer's output stage
// (quant/quantize_output.h), staged as one more shard. Tensors the quantizer does not solve
// (linears and ends of a float type: F16, BF16, F32) are quantized by the exporter from the model
// as the quantizer left it (AWQ-scaled, if AWQ ran), with the imatrix if one is given.
// Finished layers are staged on disk as the GPTQ checkpoint sink stages its own (a shard per layer
// in `.OUT.layers.resumable` beside the output, progress.json, --resume), holding each solved
// linear's block codes (one byte per weight), group parameters and the blocks' stored parameters
// instead of packed words. commit() exports from the staged shards, memory-mapped a tensor at a
// time, so a run holds about one layer, and the staging goes once the .gguf is in place.
#pragma once
#include <functional>
#include <memory>

#include "formats/gguf_export.h"
#include "formats/gptq_checkpoint.h"

namespace mp {

// QuantizePlan::module_grids for a GGUF export: each decoder linear, the output matrix and the
// token embedding get the GgufBlockGrid of the type choose_tensor_type gives them, or null (left to
// the exporter) when that type has none.
std::function<std::shared_ptr<const Grid>(const std::string& module)> gguf_module_grids(
    const ModelConfig& config, const GgufExportOptions& options);

class GgufSink : public GptqCheckpointSink {
 public:
  // `plan.module_grids` must be gguf_module_grids(config, options).
  GgufSink(std::string out_path, const ModelConfig& config, const QuantizePlan& plan, GgufExportOptions options);

  void add_output_linear(const std::string& module, const QuantizedLinear& q) override {
    stage_output_linear(module, q);
  }
  void write_output_stage(const nlohmann::json& record) override { commit_output_stage(record); }
  void commit(const ModelSource& source, const nlohmann::json& report) override;

  const GgufExportSummary& summary() const { return summary_; }

 protected:
  std::vector<std::pair<std::string, at::Tensor>> pack_linear(const std::string& module,
                                                              const QuantizedLinear& q) override;
  at::Tensor unpack_linear(const SafetensorsCheckpoint& checkpoint, const std::string& module, int64_t out_features,
                           int64_t in_features) const override;
  // What a resume must share beyond the quantizer's request: the file type and the imatrix.
  nlohmann::json quantization_config() const override { return staged_format_; }

 private:
  std::string out_path_;
  GgufExportOptions options_;
  std::function<std::shared_ptr<const Grid>(const std::string& module)> grids_;
  nlohmann::json staged_format_;
  GgufExportSummary summary_;
};

}  // namespace mp
