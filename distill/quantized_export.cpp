#include "distill/quantized_export.h"

#include "formats/gguf_export.h"
#include "formats/gptq_checkpoint.h"
#include "lib/arch/architecture.h"
#include "quant/quantize_plan.h"
#include "quant/rtn.h"

namespace mp {

namespace {

void write_gptq_checkpoint(const QuantizeTarget& target, const ModelSource& source, const std::string& out) {
  const ModelConfig& config = source.config();
  QuantizePlan plan;
  plan.method = QuantMethod::rtn;
  plan.grid = target.gptq;
  const auto grid = std::make_shared<AffineGrid>(target.gptq);
  GptqCheckpointSink sink(out, config, plan);
  sink.begin({{"quantize", target.spec}}, /*resume=*/false);
  for (int64_t i = 0; i < config.num_layers; ++i) {
    const DecoderLayerWeights dense =
        assemble_layer(config, i, [&](const std::string& suffix) { return source.tensor(hf_names::layer(i, suffix)); });
    for (const LayerTensor& t : architecture_of(config).layer_tensors(config)) {
      if (t.kind != LayerTensor::Kind::weight || t.shape.size() != 2) continue;
      const std::string module = t.hf.substr(0, t.hf.size() - std::string(".weight").size());
      sink.add_linear(i, module, quantize_rtn(source.tensor(hf_names::layer(i, t.hf)), grid));
    }
    sink.write_layer(i, dense, nlohmann::json::object());
  }
  sink.commit(source, {{"method", "rtn"}, {"qad", target.spec}});
}

}  // namespace

std::string export_quantized_student(const QuantizeTarget& target, const std::string& model_dir,
                                     const std::string& grid_from, bool per_block_better) {
  const std::shared_ptr<const ModelSource> source = open_model(model_dir);
  if (!target.gguf) {
    const std::string out = model_dir + "/gptq-w" + std::to_string(target.gptq.bits) + "g" +
                            std::to_string(target.gptq.group_size);
    write_gptq_checkpoint(target, *source, out);
    return out;
  }
  GgufExportOptions options;
  options.type = target.gguf_type;
  options.grid_from = grid_from;
  options.grid_from_per_block_better = per_block_better;
  const std::string out = model_dir + "/model-" + target.gguf_type.name + ".gguf";
  export_gguf(*source, out, options);
  return out;
}

}  // namespace mp
