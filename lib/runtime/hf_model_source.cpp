#include "lib/runtime/hf_model_source.h"

#include "lib/base/error.h"
#include "lib/runtime/tensor_shapes.h"

namespace mp {

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
  // The configured shape says where padding ends.
  const auto in_layer = hf_names::split_layer(prefix);
  const auto [out, in] = config_.linear_shape(in_layer ? in_layer->suffix : prefix);
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
  // Opened only when asked for: steps that need no text (RTN, export, inspect) never touch it.
  Tokenizer tok = Tokenizer::open(dir_);
  // Every id the tokenizer yields needs an embedding row. A tokenizer.json may have fewer tokens than
  // rows (Qwen pads its embedding); a SentencePiece model has one piece per row, so any difference
  // means the two files belong to different models.
  const bool sentencepiece_file = tok.origin().size() > 6 && tok.origin().compare(tok.origin().size() - 6, 6, ".model") == 0;
  if (tok.vocab_size() > config_.vocab_size || (sentencepiece_file && tok.vocab_size() != config_.vocab_size))
    fail_input(tok.origin(), "the tokenizer has " + std::to_string(tok.vocab_size()) + " tokens but the model's embedding has " +
                                 std::to_string(config_.vocab_size) + " rows (vocab_size in config.json)");
  return tok;
}

}  // namespace mp
