// A trainable Llama-family model (Llama, Mistral, Qwen2 and Llama with attention/MLP biases): every
// parameter is an f32 leaf tensor that requires grad, named as in HF checkpoints. The forward pass is the runtime's own decoder_layer_forward (lib/decoder_layer.h),
// so training and inference share one implementation of the math.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "formats/hf_config.h"
#include "lib/runtime/model_source.h"
#include "lib/runtime/rope.h"

namespace mp {

class StudentModel {
 public:
  // A copy of an HF model (any ModelSource path), trainable.
  static StudentModel from_pretrained(const std::string& path);
  // Fresh weights for `config`: linears and embeddings ~ N(0, 0.02) as HF initializes Llama,
  // norms at 1, biases at 0; reproducible from `seed`. `tokenizer_dir` holds the tokenizer files to ship.
  static StudentModel from_config(const ModelConfig& config, uint64_t seed, std::string tokenizer_dir);
  // Minitron-style depth pruning: the teacher's embeddings, final norm and LM head, and the
  // decoder layers listed in `keep` (in that order).
  static StudentModel from_teacher_layers(const std::string& teacher_path, const std::vector<int64_t>& keep);

  const ModelConfig& config() const { return config_; }
  // Parameters in a fixed order (the order of checkpoints, optimizer state and all-reduce).
  const std::vector<std::pair<std::string, at::Tensor>>& parameters() const { return params_; }
  at::Tensor& parameter(const std::string& name);
  int64_t parameter_count() const;
  // Moves every parameter to `device` (they stay leaves); done before an optimizer holds them.
  void to(const at::Device& device);
  at::Device device() const { return params_.front().second.device(); }

  // tokens [B, T] int64 (any device) -> logits [B, T, V] in f32 on the student's device, computed in `dtype` (f32 or bf16). In bf16 the
  // weights are cast on the fly so gradients still land on the f32 masters.
  at::Tensor forward(const at::Tensor& tokens, at::ScalarType dtype);

  // What the forward pass uses of each parameter, given its name and master value (identity when
  // unset): quantization-aware training rounds the weights here (distill/fake_quantizer.h).
  using WeightView = std::function<at::Tensor(const std::string& name, const at::Tensor& master)>;
  void set_weight_view(WeightView view) { weight_view_ = std::move(view); }

  // An HF directory eval reads: config.json (num_hidden_layers updated), model.safetensors and the
  // tokenizer files. Each file is written atomically; `dir` must exist.
  void save(const std::string& dir) const;
  // Replaces every parameter's values by the tensors of the same name in `file` (a checkpoint).
  void load_values(const std::string& safetensors_path);
  // The same from any model (--init-weights: a GPTQ GGUF's dequantized weights, for instance).
  void load_values(const ModelSource& source);

 private:
  StudentModel(ModelConfig config, std::string tokenizer_dir);
  void add(const std::string& name, at::Tensor value);
  void assign_values(const std::string& origin, const std::function<at::Tensor(const std::string&)>& stored);
  ModelConfig config_;
  std::string tokenizer_dir_;
  std::vector<std::pair<std::string, at::Tensor>> params_;
  std::map<std::string, size_t> index_;
  RotaryEmbedding rope_;
  WeightView weight_view_;
};

// The HF tensor names of a model with this config (biases included), in checkpoint order.
std::vector<std::string> llama_parameter_names(const ModelConfig& config);

}  // namespace mp
