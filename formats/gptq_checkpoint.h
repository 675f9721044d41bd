// Hugging Face GPTQ checkpoints (the layout AutoGPTQ, GPTQModel, transformers and vLLM share):
// per quantized linear `qweight`, `qzeros`, `scales`, `g_idx` (and `bias`), config.json with a
// `quantization_config`. Written one shard per decoder layer as the quantizer finishes it.
#pragma once
#include <nlohmann/json.hpp>

#include "formats/quantized_sink.h"
#include "formats/safetensors.h"
#include "lib/base/atomic_output.h"
#include "quant/pack_gptq.h"
#include "quant/quantize_plan.h"

namespace mp {

class GptqCheckpointSink : public QuantizedModelSink {
 public:
  // Layers are staged in `.NAME.resumable` beside out_dir (see QuantizedModelSink::begin).
  GptqCheckpointSink(const std::string& out_dir, const ModelConfig& config, const QuantizePlan& plan);
  std::vector<nlohmann::json> begin(const nlohmann::json& request, bool resume) override;
  DecoderLayerWeights read_layer(int64_t index) const override;
  void add_linear(int64_t index, const std::string& suffix, const QuantizedLinear& q) override;
  void write_layer(int64_t index, const DecoderLayerWeights& dense, const nlohmann::json& record) override;
  void keep_partial() override { out_.keep(); }
  std::string resume_dir() const override { return out_.staging(); }
  void commit(const ModelSource& source, const nlohmann::json& report) override;

 protected:
  // The HF layout (a shard per layer, index, config.json, tokenizer files) is shared by the packed
  // formats; a format changes only how a linear is packed and read back and what
  // quantization_config says. Returns tensor suffixes ("qweight", ...) and tensors; pads and
  // records `module` when needed.
  virtual std::vector<std::pair<std::string, at::Tensor>> pack_linear(const std::string& module,
                                                                      const QuantizedLinear& q);
  // The dense f32 weight [out, in] of a linear pack_linear() wrote under `module`.
  virtual at::Tensor unpack_linear(const SafetensorsCheckpoint& checkpoint, const std::string& module,
                                   int64_t out_features, int64_t in_features) const;
  virtual nlohmann::json quantization_config() const;  // null: a dense float model
  // The output stage for a sink that takes one (GgufSink): staged and resumed as a layer is, as
  // stage num_layers. The HF layout writes the model's ends from the source at commit() instead.
  void stage_output_linear(const std::string& module, const QuantizedLinear& q);
  void commit_output_stage(const nlohmann::json& record);
  const QuantizePlan& plan() const { return plan_; }
  const std::string& staging_dir() const { return out_.staging(); }
  // For a sink whose output is not the staging directory itself (GgufSink): the staging stops
  // being resumable before it is removed, so that a kill while it goes leaves nothing a resume
  // would trust (a progress record naming shards already deleted).
  void forget_progress();
  std::vector<std::string>& padded_modules() { return padded_; }

 private:
  std::string shard_name(int64_t shard) const;
  GptqCheckpointFormat format() const;
  void write_index() const;
  // Saves stage `index` (a layer, or num_layers: the output stage) as its shard and records it.
  void commit_stage(int64_t index, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                    const nlohmann::json& record);
  AtomicDirectory out_;
  ModelConfig config_;
  QuantizePlan plan_;
  nlohmann::ordered_json weight_map_ = nlohmann::ordered_json::object();
  std::vector<std::string> padded_;
  // The layer being written: packed tensors of its quantized linears, by suffix.
  std::map<std::string, std::vector<std::pair<std::string, at::Tensor>>> packed_;
  std::vector<std::pair<std::string, at::Tensor>> output_stage_;  // packed tensors of the output stage
  // Committed layers: what a resume checks and restores (progress.json in the staging directory).
  nlohmann::json progress_;
  std::unique_ptr<SafetensorsCheckpoint> resumed_;  // the layers an interrupted run committed
};

// The quantization_config a GPTQ checkpoint directory declares, as modelpress reads it.
struct GptqScheme {
  int bits = 4;
  int64_t group_size = 128;
  bool sym = true;
  GptqCheckpointFormat format = GptqCheckpointFormat::gptq;
  nlohmann::json dynamic;  // GPTQModel's per-module rules: "+:regex" overrides, "-:regex" skips
  static GptqScheme from_config(const nlohmann::json& quantization_config, const std::string& where);
  // bits and group size for one module ("model.layers.0.mlp.down_proj").
  std::pair<int, int64_t> for_module(const std::string& module) const;
};

// A quantized linear read from `prefix`.{qweight,qzeros,...}, cut to its configured [out, in]
// (packing may have padded it); .dequantize() gives the dense f32 weight.
QuantizedLinear read_gptq_linear(const SafetensorsCheckpoint& checkpoint, const std::string& prefix,
                                  const GptqScheme& scheme, int64_t out_features, int64_t in_features);

}  // namespace mp
