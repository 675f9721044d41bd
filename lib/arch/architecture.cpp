#include "lib/arch/architecture.h"

#include <algorithm>

#include "lib/base/error.h"

namespace mp {

// One line per family (lib/arch/<family>.cpp); the first of several with one GGUF name reads it.
const Architecture& llama_architecture();
const Architecture& mistral_architecture();
const Architecture& qwen2_architecture();
const Architecture& qwen3_architecture();
const Architecture& gemma2_architecture();
const Architecture& gemma3_architecture();
const Architecture& phi3_architecture();

namespace {

const std::vector<const Architecture*>& families() {
  static const std::vector<const Architecture*> all = {&llama_architecture(), &mistral_architecture(),
                                                       &qwen2_architecture(), &qwen3_architecture(),
                                                       &gemma2_architecture(), &gemma3_architecture(),
                                                       &phi3_architecture()};
  return all;
}

// "llama, mistral, ..." in registration order, each name once.
std::string supported_names(bool gguf) {
  std::vector<std::string> seen;
  for (const Architecture* a : families()) {
    const std::string name = gguf ? a->gguf_name() : a->model_type();
    if (std::find(seen.begin(), seen.end(), name) == seen.end()) seen.push_back(name);
  }
  std::string out;
  for (const std::string& name : seen) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

std::string Architecture::gguf_unsupported(const ModelConfig& c) const {
  for (int64_t i = 0; i < c.num_layers; ++i)
    if (c.attention_window(i) > 0)
      return std::string("llama.cpp's \"") + gguf_name() + "\" has no sliding-window attention (layer " +
             std::to_string(i) + " has a window of " + std::to_string(c.attention_window(i)) + ")";
  return "";
}

const std::vector<LinearGroup>& Architecture::linear_groups() const {
  static const std::vector<LinearGroup> groups = {
      {"attn_in", {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}},
      {"o_in", {"self_attn.o_proj"}},
      {"mlp_in", {"mlp.gate_proj", "mlp.up_proj"}},
      {"down_in", {"mlp.down_proj"}},
  };
  return groups;
}

const std::vector<ScalingGroup>& Architecture::awq_scaling_groups() const {
  static const std::vector<ScalingGroup> groups = {
      {"qkv", ScaledOp::input_norm, "attn_in", {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"},
       InspectedBlock::attention},
      {"v->o", ScaledOp::v_proj, "o_in", {"self_attn.o_proj"}, InspectedBlock::o_proj},
      {"gate,up", ScaledOp::post_attention_norm, "mlp_in", {"mlp.gate_proj", "mlp.up_proj"}, InspectedBlock::mlp},
      {"up->down", ScaledOp::up_proj, "down_in", {"mlp.down_proj"}, InspectedBlock::down_proj},
  };
  return groups;
}

const Architecture& architecture(const std::string& model_type, const std::string& where) {
  for (const Architecture* a : families())
    if (model_type == a->model_type()) return *a;
  fail_input(where, "unsupported model_type \"" + model_type + "\" (supported: " + supported_names(false) + ")");
}

const Architecture& architecture_of(const ModelConfig& config) { return architecture(config.model_type, "config"); }

const Architecture& architecture_for_gguf(const std::string& gguf_name, const std::string& where) {
  for (const Architecture* a : families())
    if (gguf_name == a->gguf_name()) return *a;
  fail_input(where, "GGUF architecture \"" + gguf_name + "\" is not supported (" + supported_names(true) + ")");
}

}  // namespace mp
