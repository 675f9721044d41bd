#include "distill/student_model.h"

#include <ATen/CPUGeneratorImpl.h>

#include <filesystem>
#include <fstream>

#include "formats/safetensors.h"
#include "lib/arch/architecture.h"
#include "lib/base/atomic_output.h"
#include "lib/runtime/decoder_layer.h"
#include "lib/base/error.h"
#include "lib/runtime/model_source.h"
#include "lib/pipeline/provenance.h"

namespace fs = std::filesystem;

namespace mp {

namespace {

// A layer's parameter suffixes in checkpoint order (the architecture's data-flow order).
std::vector<std::string> layer_parameter_suffixes(const ModelConfig& c) {
  std::vector<std::string> suffixes;
  for (const LayerTensor& t : architecture_of(c).layer_tensors(c)) suffixes.push_back(t.hf);
  return suffixes;
}

std::string tokenizer_dir_of(const std::string& path) {
  return fs::is_directory(path) ? path : fs::path(path).parent_path().string();
}

at::Tensor trainable(const at::Tensor& t) { return t.to(at::kFloat).clone().set_requires_grad(true); }

}  // namespace

std::vector<std::string> llama_parameter_names(const ModelConfig& c) {
  std::vector<std::string> names{hf_names::embed};
  const std::vector<std::string> suffixes = layer_parameter_suffixes(c);
  for (int64_t i = 0; i < c.num_layers; ++i)
    for (const auto& suffix : suffixes) names.push_back(hf_names::layer(i, suffix));
  names.push_back(hf_names::final_norm);
  if (!c.tie_word_embeddings) names.push_back(hf_names::lm_head);
  return names;
}

StudentModel::StudentModel(ModelConfig config, std::string tokenizer_dir)
    : config_(std::move(config)), tokenizer_dir_(std::move(tokenizer_dir)), rope_(config_) {}

void StudentModel::add(const std::string& name, at::Tensor value) {
  index_[name] = params_.size();
  params_.emplace_back(name, trainable(value));
}

at::Tensor& StudentModel::parameter(const std::string& name) {
  auto it = index_.find(name);
  if (it == index_.end()) fail_runtime("student has no parameter " + name);
  return params_[it->second].second;
}

int64_t StudentModel::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : params_) n += p.second.numel();
  return n;
}

void StudentModel::to(const at::Device& device) {
  for (auto& [name, value] : params_)
    if (value.device() != device) value = value.detach().to(device).set_requires_grad(true);
}

StudentModel StudentModel::from_pretrained(const std::string& path) {
  auto source = open_model(path);
  StudentModel m(source->config(), tokenizer_dir_of(path));
  for (const auto& name : llama_parameter_names(m.config_)) m.add(name, source->tensor(name));
  return m;
}

StudentModel StudentModel::from_config(const ModelConfig& config, uint64_t seed, std::string tokenizer_dir) {
  StudentModel m(config, std::move(tokenizer_dir));
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto normal = [&](std::vector<int64_t> shape) { return at::empty(shape).normal_(0.0, 0.02, gen); };
  auto unit_norm = [&](std::vector<int64_t> shape) { return config.norm_adds_one ? at::zeros(shape) : at::ones(shape); };
  const std::vector<int64_t> embedding{config.vocab_size, config.hidden_size};
  m.add(hf_names::embed, normal(embedding));
  const std::vector<LayerTensor> layer = architecture_of(config).layer_tensors(config);
  for (int64_t i = 0; i < config.num_layers; ++i)
    for (const LayerTensor& t : layer) {
      // HF's initialization: norms at one (a (1 + w) norm's w at zero), linear biases at zero.
      at::Tensor value = t.kind == LayerTensor::Kind::norm   ? unit_norm(t.shape)
                         : t.kind == LayerTensor::Kind::bias ? at::zeros(t.shape)
                                                             : normal(t.shape);
      m.add(hf_names::layer(i, t.hf), value);
    }
  m.add(hf_names::final_norm, unit_norm({config.hidden_size}));
  if (!config.tie_word_embeddings) m.add(hf_names::lm_head, normal(embedding));
  return m;
}

StudentModel StudentModel::from_teacher_layers(const std::string& teacher_path, const std::vector<int64_t>& keep) {
  auto source = open_model(teacher_path);
  const ModelConfig& teacher = source->config();
  if (keep.empty()) fail_input("--keep-layers", "no layers given");
  for (int64_t i : keep)
    if (i < 0 || i >= teacher.num_layers)
      fail_input("--keep-layers", "layer " + std::to_string(i) + " does not exist (the teacher has " +
                                      std::to_string(teacher.num_layers) + " layers)");
  ModelConfig config = teacher;
  config.num_layers = static_cast<int64_t>(keep.size());
  config.raw["num_hidden_layers"] = config.num_layers;
  if (!teacher.sliding_layers.empty()) {  // each kept layer keeps its kind of attention
    config.sliding_layers.clear();
    config.raw["layer_types"] = nlohmann::json::array();
    for (int64_t i : keep) {
      config.sliding_layers.push_back(teacher.sliding_layers[i]);
      config.raw["layer_types"].push_back(teacher.sliding_layers[i] ? "sliding_attention" : "full_attention");
    }
  }
  StudentModel m(config, tokenizer_dir_of(teacher_path));
  m.add(hf_names::embed, source->tensor(hf_names::embed));
  const std::vector<std::string> suffixes = layer_parameter_suffixes(config);
  for (size_t j = 0; j < keep.size(); ++j)
    for (const auto& suffix : suffixes)
      m.add(hf_names::layer(static_cast<int64_t>(j), suffix), source->tensor(hf_names::layer(keep[j], suffix)));
  m.add(hf_names::final_norm, source->tensor(hf_names::final_norm));
  if (!config.tie_word_embeddings) m.add(hf_names::lm_head, source->tensor(hf_names::lm_head));
  return m;
}

at::Tensor StudentModel::forward(const at::Tensor& tokens, at::ScalarType dtype) {
  auto w = [&](const std::string& name) {
    const at::Tensor& master = parameter(name);
    return (weight_view_ ? weight_view_(name, master) : master).to(dtype);
  };
  at::Tensor embed = w(hf_names::embed);
  at::Tensor h = embed_tokens(config_, embed, tokens);
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    const DecoderLayerWeights layer =
        assemble_layer(config_, i, [&](const std::string& suffix) { return w(hf_names::layer(i, suffix)); });
    h = decoder_layer_forward(config_, layer, rope_, h, /*start_pos=*/0);
  }
  const at::Tensor head = config_.tie_word_embeddings ? embed : w(hf_names::lm_head);
  return output_logits(config_, h, w(hf_names::final_norm), head);
}

void StudentModel::save(const std::string& dir) const {
  nlohmann::json config = config_.raw;
  config["num_hidden_layers"] = config_.num_layers;
  config["torch_dtype"] = "float32";
  write_file_atomically(dir + "/config.json", config.dump(2) + "\n");
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& [name, value] : params_) tensors.emplace_back(name, value.detach().cpu());
  save_safetensors(dir + "/model.safetensors", tensors, with_provenance({{"format", "pt"}}));
  if (tokenizer_dir_.empty()) return;  // a student from a bare config has no tokenizer to ship
  for (const char* file : {"tokenizer.model", "tokenizer_config.json", "tokenizer.json", "special_tokens_map.json"}) {
    const fs::path from = fs::path(tokenizer_dir_) / file;
    if (!fs::exists(from) || fs::equivalent(fs::path(tokenizer_dir_), fs::path(dir))) continue;
    std::ifstream in(from, std::ios::binary);
    write_file_atomically(dir + "/" + file, std::string(std::istreambuf_iterator<char>(in), {}));
  }
}

void StudentModel::load_values(const std::string& safetensors_path) {
  const SafetensorsFile file(safetensors_path);
  assign_values(safetensors_path, [&](const std::string& name) {
    const TensorInfo* info = file.find(name);
    return info ? file.tensor(*info) : at::Tensor();
  });
}

void StudentModel::load_values(const ModelSource& source) {
  assign_values(source.path(), [&](const std::string& name) { return source.has(name) ? source.tensor(name) : at::Tensor(); });
}

void StudentModel::assign_values(const std::string& origin,
                                 const std::function<at::Tensor(const std::string&)>& stored_tensor) {
  at::NoGradGuard no_grad;
  for (auto& [name, value] : params_) {
    const at::Tensor stored = stored_tensor(name);
    if (!stored.defined()) fail_input(origin, "no tensor " + name);
    if (!stored.sizes().equals(value.sizes())) fail_input(origin, name + " has the wrong shape");
    value.copy_(stored);
  }
}

}  // namespace mp
