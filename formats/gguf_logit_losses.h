// The loss a size-targeted mix minimises when calibration text is given: how much quantizing one
// tensor moves the model's next-token distribution, measured at the logits. The model runs a few
// calibration windows once; each layer's input states and the reference log-probabilities are kept,
// so a tensor of layer l costs a forward from layer l to the logits with that tensor replaced
// (docs/gguf.md, "Size-targeted mixes").
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

#include "lib/runtime/model_source.h"
#include "lib/runtime/rope.h"

namespace mp {

class LogitLossMeter {
 public:
  // windows: [samples, seqlen] int64 tokens. Runs the unquantized model over them once (f32, CPU).
  LogitLossMeter(const ModelSource& source, const at::Tensor& windows);

  // Mean KL(p_original ‖ p_replaced) per token, in nats, of the model with these tensors (HF names,
  // HF layout) replaced; a tied embedding replaced is both the lookup and the output matrix.
  double kl(const std::map<std::string, at::Tensor>& replaced);

  int64_t tokens() const { return windows_.numel(); }

 private:
  at::Tensor weight(const std::string& hf, const std::map<std::string, at::Tensor>& replaced) const;
  at::Tensor run(int64_t first_layer, at::Tensor hidden, const std::map<std::string, at::Tensor>& replaced,
                 bool record = false);

  const ModelSource& source_;
  at::Tensor windows_;
  RotaryEmbedding rope_;
  std::vector<at::Tensor> layer_inputs_;  // the hidden states entering each layer, then the last layer's output
  at::Tensor reference_log_probs_;        // [tokens, vocab]
};

}  // namespace mp
