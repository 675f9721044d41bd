#include "lib/runtime/hf_model_source.h"

#include <filesystem>

#include "lib/base/error.h"
#include "lib/runtime/tensor_shapes.h"

namespace fs = std::filesystem;

namespace mp {

std::string hf_names::layer(int64_t i, const std::string& suffix) {
  return "model.layers." + std::to_string(i) + "." + suffix;
}

HfModelSource::HfModelSource(const std::string& dir)
    : dir_(dir), config_(ModelConfig::load(dir)), checkpoint_(dir) {
  if (config_.raw.contains("quantization_config")) {
    const auto& qc = config_.raw["quantization_config"];
    if (!qc.is_object() || !qc.contains("quant_method") || !qc["quant_method"].is_string())
      fail_input(dir + "/config.json", "quantization_config must be an object with a string quant_method");
    const std::string method = qc["quant_method"].get<std::string>();
    if (method == "gptq") gptq_ = GptqScheme::from_config(qc, dir + "/config.json");
    else if (method == "awq") awq_ = AwqScheme::from_config(qc, dir + "/config.json");
    else fail_input(dir, "unsupported quantization_config quant_method \"" + method + "\"");
  }
  for (const char* name : {hf_names::embed, hf_names::final_norm})
    if (!checkpoint_.has(name)) fail_input(dir, std::string("checkpoint has no tensor '") + name + "'");
  if (!config_.tie_word_embeddings && !checkpoint_.has(hf_names::lm_head))
    fail_input(dir, "no lm_head.weight and tie_word_embeddings is false");
  const auto& embed = checkpoint_.info(hf_names::embed);
  if (embed.shape.size() != 2 || embed.shape[0] != config_.vocab_size || embed.shape[1] != config_.hidden_size)
    fail_input(dir, "model.embed_tokens.weight shape does not match vocab_size x hidden_size in config.json");
}

std::string HfModelSource::quantized_prefix(const std::string& name) const {
  static const std::string suffix = ".weight";
  if ((!gptq_ && !awq_) || checkpoint_.has(name) || name.size() <= suffix.size() ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return "";
  const std::string prefix = name.substr(0, name.size() - suffix.size());
  return checkpoint_.has(prefix + ".qweight") ? prefix : "";
}

bool HfModelSource::has(const std::string& name) const {
  return checkpoint_.has(name) || !quantized_prefix(name).empty();
}

void HfModelSource::release(const std::string& name) const {
  if (checkpoint_.has(name)) checkpoint_.release(name);
}

std::optional<QuantizedLinear> HfModelSource::quantized_linear(const std::string& name) const {
  const std::string prefix = quantized_prefix(name);
  if (prefix.empty()) return std::nullopt;
  // "model.layers.<i>.<suffix>": the configured shape says where padding ends.
  const size_t dot = prefix.find('.', std::string("model.layers.").size());
  const auto [out, in] = config_.linear_shape(prefix.substr(dot + 1));
  return gptq_ ? read_gptq_linear(checkpoint_, prefix, *gptq_, out, in)
               : read_awq_linear(checkpoint_, prefix, *awq_, out, in);
}

at::Tensor HfModelSource::tensor(const std::string& name) const {
  if (const auto q = quantized_linear(name)) return q->dequantize();
  at::Tensor t = checkpoint_.tensor(name);
  check_tensor_shape(config_, name, t, dir_);
  return t.is_floating_point() ? t : t.to(at::kFloat);
}

Tokenizer HfModelSource::tokenizer() const {
  const fs::path model = fs::path(dir_) / "tokenizer.model";
  if (!fs::exists(model)) fail_input(dir_, "no tokenizer.model (a SentencePiece model is needed to tokenize text)");
  Tokenizer tokenizer = Tokenizer::from_file(model.string());
  // Every id the tokenizer yields must have an embedding row, and every row a piece to print.
  if (tokenizer.vocab_size() != config_.vocab_size)
    fail_input(model.string(), "has " + std::to_string(tokenizer.vocab_size()) + " pieces, config.json vocab_size is " +
                                   std::to_string(config_.vocab_size));
  return tokenizer;
}

}  // namespace mp
