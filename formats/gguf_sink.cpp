#include "formats/gguf_sink.h"

#include "formats/gguf_block_grid.h"
#include "lib/arch/architecture.h"
#include "lib/base/sha256.h"

namespace mp {

namespace {

// The staged tensors of a solved linear, beside its module name.
const char* const kStagedParts[] = {"codes", "scales", "zeros", "g_idx", "block_params"};

// A linear staged under `module`, viewing the checkpoint's mapped bytes, its grid bound to the
// blocks' stored parameters as the solve left them.
QuantizedLinear read_staged_linear(const SafetensorsCheckpoint& staged, const std::string& module,
                                   const std::shared_ptr<const Grid>& grid) {
  const auto* block_grid = dynamic_cast<const GgufBlockGrid*>(grid.get());
  if (!block_grid) fail_runtime(module + " was staged with codes but the requested type has no block grid for it");
  QuantizedLinear q;
  q.codes = staged.tensor(module + ".codes");
  q.scales = staged.tensor(module + ".scales");
  q.zeros = staged.tensor(module + ".zeros");
  q.g_idx = staged.tensor(module + ".g_idx");
  q.grid = block_grid->bind(staged.tensor(module + ".block_params"));
  return q;
}

void release_staged_linear(const SafetensorsCheckpoint& staged, const std::string& module) {
  for (const char* part : kStagedParts) staged.release(module + "." + part);
}

std::string module_of(const std::string& weight) { return weight.substr(0, weight.rfind('.')); }

// The source with the staged layers in place of its own.
class StagedModel : public ModelSource {
 public:
  StagedModel(const ModelSource& base, const SafetensorsCheckpoint& staged,
              const std::function<std::shared_ptr<const Grid>(const std::string&)>& grids)
      : base_(base), staged_(staged), grids_(grids) {}

  const ModelConfig& config() const override { return base_.config(); }
  bool has(const std::string& name) const override { return solved(name) || staged_.has(name) || base_.has(name); }
  at::Tensor tensor(const std::string& name) const override {
    if (solved(name)) return quantized_linear(name)->dequantize();
    return staged_.has(name) ? staged_.tensor(name) : base_.tensor(name);
  }
  void release(const std::string& name) const override {
    if (solved(name)) release_staged_linear(staged_, module_of(name));
    else if (staged_.has(name)) staged_.release(name);
    else base_.release(name);
  }
  std::optional<QuantizedLinear> quantized_linear(const std::string& name) const override {
    if (!solved(name)) return std::nullopt;
    return read_staged_linear(staged_, module_of(name), grids_(module_of(name)));
  }
  std::string quantization_method() const override { return "GPTQ"; }
  Tokenizer tokenizer() const override { return base_.tokenizer(); }
  const std::string& path() const override { return base_.path(); }

 private:
  bool solved(const std::string& name) const { return staged_.has(module_of(name) + ".codes"); }
  const ModelSource& base_;
  const SafetensorsCheckpoint& staged_;
  const std::function<std::shared_ptr<const Grid>(const std::string&)>& grids_;
};

}  // namespace

std::function<std::shared_ptr<const Grid>(const std::string& module)> gguf_module_grids(
    const ModelConfig& config, const GgufExportOptions& options) {
  std::map<std::string, std::shared_ptr<const Grid>> grids;  // by module (HF name without ".weight")
  for (const LlamaTensorName& name : llama_tensor_names(config)) {
    // The decoder linears, and the model's ends for the quantizer's output stage.
    const bool end = name.hf == hf_names::embed || name.hf == hf_names::lm_head;
    if ((name.layer < 0 && !end) || name.shape.size() != 2) continue;
    const GgmlType type = choose_tensor_type(options.type, name, name.shape, config.num_layers,
                                             config.num_heads / config.num_kv_heads, config.tie_word_embeddings,
                                             !options.imatrix.empty())
                              .used;
    if (has_block_grid(type)) grids[module_of(name.hf)] = std::make_shared<GgufBlockGrid>(type);
  }
  return [grids](const std::string& module) -> std::shared_ptr<const Grid> {
    const auto it = grids.find(module);
    return it == grids.end() ? nullptr : it->second;
  };
}

// Staged as `.OUT.layers.resumable`: the exporter locks OUT itself while it writes the file.
GgufSink::GgufSink(std::string out_path, const ModelConfig& config, const QuantizePlan& plan, GgufExportOptions options)
    : GptqCheckpointSink(out_path + ".layers", config, plan),
      out_path_(std::move(out_path)),
      options_(std::move(options)),
      grids_(gguf_module_grids(config, options_)),
      staged_format_({{"quant_method", "gguf"},
                      {"type", options_.type.name},
                      {"imatrix_sha256", options_.imatrix.empty() ? nlohmann::json() : nlohmann::json(sha256_file(options_.imatrix))},
                      {"provenance", options_.provenance_keys ? "file" : "manifest"}}) {
  // A size-targeted run's types are part of what a resume must share.
  for (const auto& [tensor, type] : options_.type.overrides.allocated) staged_format_["allocated"][tensor] = ggml_type_name(type);
}

std::vector<std::pair<std::string, at::Tensor>> GgufSink::pack_linear(const std::string&, const QuantizedLinear& q) {
  const auto* grid = dynamic_cast<const GgufBlockGrid*>(q.grid.get());
  if (!grid || !grid->stored().defined()) fail_runtime("a GGUF output takes linears solved on a bound block grid");
  return {{"codes", q.codes.to(at::kByte)},  // block levels fit a byte
          {"scales", q.scales},
          {"zeros", q.zeros},
          {"g_idx", q.g_idx},
          {"block_params", grid->stored()}};
}

at::Tensor GgufSink::unpack_linear(const SafetensorsCheckpoint& checkpoint, const std::string& module, int64_t,
                                   int64_t) const {
  at::Tensor weight = read_staged_linear(checkpoint, module, grids_(module)).dequantize();
  release_staged_linear(checkpoint, module);
  return weight;
}

void GgufSink::commit(const ModelSource& source, const nlohmann::json&) {
  const SafetensorsCheckpoint staged(staging_dir());
  summary_ = export_gguf(StagedModel(source, staged, grids_), out_path_, options_);
  forget_progress();
}

}  // namespace mp
