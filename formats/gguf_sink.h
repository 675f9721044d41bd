// The quantizer writing a GGUF file directly (quantize --to gguf): GPTQ solves each linear on the
// ggml block grid of the type the export mix gives it (formats/gguf_block_grid.h), and the file is
// then written by the exporter, which keeps those blocks as solved. Tensors the quantizer does not
// solve (embedding, output matrix, linears whose type has no block grid yet) are quantized by the
// exporter from the model as the quantizer left it (AWQ-scaled, if AWQ ran), with the imatrix if
// one is given. Layers are kept in memory until commit: no resume, and a model's codes must fit
// (one byte per weight).
#pragma once
#include <functional>
#include <map>
#include <memory>

#include "formats/gguf_export.h"
#include "formats/quantized_sink.h"

namespace mp {

// QuantizePlan::module_grids for a GGUF export: each decoder linear gets the GgufBlockGrid of the
// type choose_tensor_type gives it, or null (kept float for the exporter) when that type has none.
std::function<std::shared_ptr<const Grid>(const std::string& module)> gguf_module_grids(
    const ModelConfig& config, const GgufExportOptions& options);

class GgufSink : public QuantizedModelSink {
 public:
  GgufSink(std::string out_path, const ModelConfig& config, GgufExportOptions options);

  std::vector<nlohmann::json> begin(const nlohmann::json& request, bool resume) override;
  void add_linear(int64_t index, const std::string& suffix, const QuantizedLinear& q) override;
  void write_layer(int64_t index, const DecoderLayerWeights& dense, const nlohmann::json& record) override;
  void commit(const ModelSource& source, const nlohmann::json& report) override;

  const GgufExportSummary& summary() const { return summary_; }

 private:
  std::string out_path_;
  ModelConfig config_;
  GgufExportOptions options_;
  std::map<std::string, QuantizedLinear> solved_;  // by HF weight name
  std::map<std::string, at::Tensor> dense_;        // the layers' other tensors, by HF name
  GgufExportSummary summary_;
};

}  // namespace mp
