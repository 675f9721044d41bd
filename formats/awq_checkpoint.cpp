#include "formats/awq_checkpoint.h"

#include "formats/config_keys.h"
#include "lib/base/error.h"
#include "lib/base/version.h"

namespace mp {

AwqCheckpointSink::AwqCheckpointSink(const std::string& out_dir, const ModelConfig& config, const QuantizePlan& plan)
    : GptqCheckpointSink(out_dir, config, plan) {
  if (plan.grid.bits != 4) fail_input("--bits", "the AWQ GEMM format stores 4-bit weights only");
  for (const auto& o : plan.overrides)
    if (o.bits && *o.bits != 4) fail_input("--override " + o.pattern, "the AWQ GEMM format stores 4-bit weights only");
  if (plan.gptq.act_order) fail_input("--act-order", "AWQ checkpoints cannot store act-order groups");
}

std::vector<std::pair<std::string, at::Tensor>> AwqCheckpointSink::pack_linear(const std::string& module,
                                                                               const QuantizedLinear& q) {
  // Codes are packed along the output: 8 per word. Inputs need no padding; a ragged last group
  // (e.g. 172 inputs in groups of 32) is one more row of scales and zeros.
  QuantizedLinear padded = pad_quantized_linear(q, 8, 1);
  if (padded.codes.sizes() != q.codes.sizes()) padded_modules().push_back(module);
  AwqTensors t = pack_awq(padded);
  return {{"qweight", t.qweight}, {"qzeros", t.qzeros}, {"scales", t.scales}};
}

at::Tensor AwqCheckpointSink::unpack_linear(const SafetensorsCheckpoint& checkpoint, const std::string& module,
                                            int64_t out_features, int64_t in_features) const {
  return read_awq_linear(checkpoint, module, AwqScheme::from_config(quantization_config(), module), out_features,
                         in_features)
      .dequantize();
}

nlohmann::json AwqCheckpointSink::quantization_config() const {
  nlohmann::json qc = {{"quant_method", "awq"},
                       {"version", "gemm"},
                       {"bits", 4},
                       {"group_size", plan().grid.group_size},
                       // qzeros always hold the zero points used, so even a symmetric grid
                       // (zero fixed at 8) decodes exactly under the zero-point formula.
                       {"zero_point", true},
                       {"modules_to_not_convert", plan().skip},
                       {"quantizer", std::string("modelpress:") + version()},
                       {"modelpress_method", plan().method == QuantMethod::gptq ? "awq+gptq" : "awq"}};
  return qc;
}

AwqScheme AwqScheme::from_config(const nlohmann::json& qc, const std::string& where) {
  AwqScheme s;
  if (!qc.is_object()) fail_input(where, "quantization_config must be an object");
  const ConfigKeys keys(qc, where, "quantization_config");
  const std::string version = keys.optional<std::string>("version", "gemm");
  if (version != "gemm" && version != "GEMM") fail_input(where, "unsupported AWQ version \"" + version + "\" (gemm)");
  if (keys.optional("bits", keys.optional("w_bit", 4)) != 4) fail_input(where, "AWQ bits must be 4");
  if (!keys.optional("zero_point", true)) fail_input(where, "AWQ checkpoints without zero points are not supported");
  s.group_size = keys.optional("group_size", keys.optional("q_group_size", int64_t{128}));
  if (s.group_size == 0 || s.group_size < -1) fail_input(where, "AWQ group_size must be positive or -1");
  return s;
}

QuantizedLinear read_awq_linear(const SafetensorsCheckpoint& checkpoint, const std::string& prefix,
                                 const AwqScheme& scheme, int64_t out_features, int64_t in_features) {
  AwqTensors t{checkpoint.tensor(prefix + ".qweight"), checkpoint.tensor(prefix + ".qzeros"),
               checkpoint.tensor(prefix + ".scales")};
  QuantizedLinear q = unpack_awq(t, scheme.group_size);
  if (q.out_features() < out_features || q.in_features() != in_features)
    fail_input(prefix + ".qweight", "unpacks to " + c10::str(q.codes.sizes()) + ", which does not hold the configured [" +
                                        std::to_string(out_features) + ", " + std::to_string(in_features) + "]");
  return crop_quantized_linear(q, out_features, in_features);
}

}  // namespace mp
