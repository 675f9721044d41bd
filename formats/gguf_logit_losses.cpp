#include "formats/gguf_logit_losses.h"

#include <algorithm>

#include "lib/base/error.h"
#include "lib/runtime/decoder_layer.h"

namespace mp {

LogitLossMeter::LogitLossMeter(const ModelSource& source, const at::Tensor& windows)
    : source_(source), windows_(windows.to(at::kLong)), rope_(source.config()) {
  at::NoGradGuard no_grad;
  const at::Tensor h = embed_tokens(source_.config(), weight(hf_names::embed, {}), windows_);
  reference_log_probs_ = run(0, h, {}, /*record=*/true);
}

at::Tensor LogitLossMeter::weight(const std::string& hf, const std::map<std::string, at::Tensor>& replaced) const {
  const auto it = replaced.find(hf);
  if (it != replaced.end()) return it->second.to(at::kFloat);
  return source_.tensor(hf).to(at::kFloat);
}

// Log-probabilities [tokens, vocab] of the model from `first_layer`'s input `hidden` on (first_layer
// = num_layers: `hidden` is the last layer's output). `record` keeps every layer's input.
at::Tensor LogitLossMeter::run(int64_t first_layer, at::Tensor hidden, const std::map<std::string, at::Tensor>& replaced,
                               bool record) {
  const ModelConfig& config = source_.config();
  for (int64_t i = first_layer; i < config.num_layers; ++i) {
    if (record) layer_inputs_.push_back(hidden);
    const DecoderLayerWeights w = assemble_layer(config, i, [&](const std::string& suffix) {
      return weight(hf_names::layer(i, suffix), replaced);
    });
    hidden = decoder_layer_forward(config, w, rope_, hidden, 0);
    release_layer_pages(source_, i);
  }
  if (record) layer_inputs_.push_back(hidden);
  const bool untied = !config.tie_word_embeddings && source_.has(hf_names::lm_head);
  const at::Tensor head = weight(untied ? hf_names::lm_head : hf_names::embed, replaced);
  const at::Tensor logits = output_logits(config, hidden, weight(hf_names::final_norm, replaced), head);
  return at::log_softmax(logits.reshape({-1, logits.size(-1)}), -1);
}

double LogitLossMeter::kl(const std::map<std::string, at::Tensor>& replaced) {
  at::NoGradGuard no_grad;
  const int64_t layers = source_.config().num_layers;
  int64_t first = layers;
  bool embedding = false;
  for (const auto& [name, t] : replaced) {
    if (const auto in_layer = hf_names::split_layer(name)) first = std::min(first, in_layer->layer);
    else if (name == hf_names::embed) embedding = true;
    else if (name != hf_names::lm_head) fail_runtime("LogitLossMeter: cannot replace " + name);
  }
  const at::Tensor log_probs =
      embedding ? run(0, embed_tokens(source_.config(), weight(hf_names::embed, replaced), windows_), replaced)
                : run(first, layer_inputs_[first], replaced);
  const at::Tensor p = reference_log_probs_.exp();
  return (p * (reference_log_probs_ - log_probs)).sum(-1).to(at::kDouble).mean().item<double>();
}

}  // namespace mp
