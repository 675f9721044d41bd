#include "formats/gguf_sink.h"

#include "formats/gguf_block_grid.h"
#include "lib/arch/architecture.h"

namespace mp {

namespace {

// The source with the quantizer's layers in place of its own.
class SolvedModel : public ModelSource {
 public:
  SolvedModel(const ModelSource& base, const std::map<std::string, QuantizedLinear>& solved,
              const std::map<std::string, at::Tensor>& dense)
      : base_(base), solved_(solved), dense_(dense) {}

  const ModelConfig& config() const override { return base_.config(); }
  bool has(const std::string& name) const override {
    return solved_.count(name) || dense_.count(name) || base_.has(name);
  }
  at::Tensor tensor(const std::string& name) const override {
    if (const auto it = solved_.find(name); it != solved_.end()) return it->second.dequantize();
    if (const auto it = dense_.find(name); it != dense_.end()) return it->second;
    return base_.tensor(name);
  }
  std::optional<QuantizedLinear> quantized_linear(const std::string& name) const override {
    const auto it = solved_.find(name);
    if (it == solved_.end()) return std::nullopt;
    return it->second;
  }
  std::string quantization_method() const override { return "GPTQ"; }
  Tokenizer tokenizer() const override { return base_.tokenizer(); }
  const std::string& path() const override { return base_.path(); }

 private:
  const ModelSource& base_;
  const std::map<std::string, QuantizedLinear>& solved_;
  const std::map<std::string, at::Tensor>& dense_;
};

}  // namespace

std::function<std::shared_ptr<const Grid>(const std::string& module)> gguf_module_grids(
    const ModelConfig& config, const GgufExportOptions& options) {
  std::map<std::string, std::shared_ptr<const Grid>> grids;  // by module (HF name without ".weight")
  for (const LlamaTensorName& name : llama_tensor_names(config)) {
    if (name.layer < 0 || name.shape.size() != 2) continue;
    const GgmlType type = choose_tensor_type(options.type, name, name.shape, config.num_layers,
                                             config.num_heads / config.num_kv_heads, config.tie_word_embeddings,
                                             !options.imatrix.empty())
                              .used;
    if (has_block_grid(type))
      grids[name.hf.substr(0, name.hf.size() - std::string(".weight").size())] = std::make_shared<GgufBlockGrid>(type);
  }
  return [grids](const std::string& module) -> std::shared_ptr<const Grid> {
    const auto it = grids.find(module);
    return it == grids.end() ? nullptr : it->second;
  };
}

GgufSink::GgufSink(std::string out_path, const ModelConfig& config, GgufExportOptions options)
    : out_path_(std::move(out_path)), config_(config), options_(std::move(options)) {}

std::vector<nlohmann::json> GgufSink::begin(const nlohmann::json&, bool resume) {
  if (resume) fail_input(out_path_, "a GGUF output cannot be resumed (its layers are kept in memory until the end)");
  return {};
}

void GgufSink::add_linear(int64_t index, const std::string& suffix, const QuantizedLinear& q) {
  QuantizedLinear kept = q;
  kept.codes = q.codes.to(at::kByte);  // block levels fit a byte
  solved_[hf_names::layer(index, suffix + ".weight")] = std::move(kept);
}

// Everything of the layer but its solved linears: norms and unsolved linears may have changed
// (AWQ scales them).
void GgufSink::write_layer(int64_t index, const DecoderLayerWeights& dense, const nlohmann::json&) {
  for (const LayerTensor& t : architecture_of(config_).layer_tensors(config_)) {
    const std::string name = hf_names::layer(index, t.hf);
    const at::Tensor& value = dense.tensor(t.slot());
    if (value.defined() && !solved_.count(name)) dense_[name] = value.clone();
  }
}

void GgufSink::commit(const ModelSource& source, const nlohmann::json&) {
  summary_ = export_gguf(SolvedModel(source, solved_, dense_), out_path_, options_);
}

}  // namespace mp
