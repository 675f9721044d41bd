// GGUF export beyond the plain llama: qwen2 (its own keys, q/k/v biases, rows as HF stores them),
// llama3 rope scaling (llama.cpp's rope_freqs tensor), and add_bos/add_eos from tokenizer_config.json.
#include <cmath>
#include <filesystem>
#include <fstream>

#include "formats/gguf_export.h"
#include "formats/gguf_file.h"
#include "lib/runtime/llama_model.h"
#include "lib/runtime/runtime.h"
#include "tests/test_support.h"

using namespace mp;

namespace {

std::string write_model(const test::ScratchDir& dir, const nlohmann::json& config) {
  test::write_random_model(dir.path("m"), config, 17);
  std::filesystem::copy_file(test::shared_path("models/stories260K/tokenizer.model"), dir.path("m/tokenizer.model"));
  return dir.path("m");
}

void export_f32(const std::string& model, const std::string& out) {
  GgufExportOptions options;
  options.type = parse_gguf_export_type("F32", false);
  export_gguf(*open_model(model), out, options);
}

// Logits of both models over 120 positions (long enough for the slow rope frequencies to matter).
double max_logit_difference(const std::string& a, const std::string& b) {
  LlamaModel x(open_model(a), RuntimeOptions{}), y(open_model(b), RuntimeOptions{});
  at::manual_seed(1);
  const at::Tensor tokens = at::randint(3, 512, {1, 120}, at::kLong);
  return (x.forward(tokens) - y.forward(tokens)).abs().max().item<double>();
}

}  // namespace

TEST_CASE("GGUF export of qwen2: qwen2 keys, q/k/v biases, unpermuted rows, same logits", "[gguf_export]") {
  test::ScratchDir dir;
  nlohmann::json config = test::tiny_config("qwen2");
  const std::string hf = write_model(dir, config);
  export_f32(hf, dir.path("q.gguf"));
  const GgufFile f(dir.path("q.gguf"));
  CHECK(f.find("general.architecture")->as_string() == "qwen2");
  CHECK(f.find("qwen2.block_count")->as_uint() == 2);
  CHECK(f.find("qwen2.attention.head_count_kv")->as_uint() == 2);
  for (const auto& [key, value] : f.metadata()) CHECK(key.rfind("llama.", 0) == std::string::npos);
  CHECK(f.find("qwen2.rope.dimension_count") == nullptr);  // the converter writes it for llama only
  // NEOX rope in llama.cpp: q/k rows (and biases) stay in HF's rotate-half order.
  const auto source = open_model(hf);
  for (const auto& [gguf, part] : {std::pair{"blk.1.attn_q.weight", "q_proj.weight"}, {"blk.1.attn_k.weight", "k_proj.weight"},
                                   {"blk.1.attn_q.bias", "q_proj.bias"}, {"blk.1.attn_k.bias", "k_proj.bias"},
                                   {"blk.1.attn_v.bias", "v_proj.bias"}}) {
    INFO(gguf);
    REQUIRE(f.find_tensor(gguf) != nullptr);
    CHECK(at::equal(f.tensor(*f.find_tensor(gguf)), source->tensor(hf_names::layer(1, std::string("self_attn.") + part))));
  }
  CHECK(open_model(dir.path("q.gguf"))->config().model_type == "qwen2");
  CHECK(max_logit_difference(hf, dir.path("q.gguf")) < 1e-4);
}

TEST_CASE("GGUF export of llama3 rope scaling writes rope_freqs as llama.cpp computes it", "[gguf_export]") {
  test::ScratchDir dir;
  nlohmann::json config = test::tiny_config("llama");  // head_dim 8: wavelengths 6.3, 63, 628, 6283
  config["max_position_embeddings"] = 512;
  config["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                            {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 64}};
  const std::string hf = write_model(dir, config);
  export_f32(hf, dir.path("r.gguf"));
  const GgufFile f(dir.path("r.gguf"));
  REQUIRE(f.tensors().front().name == "rope_freqs.weight");  // generated tensors come first
  CHECK(f.tensors().front().type == GgmlType::F32);
  const at::Tensor factors = f.tensor(f.tensors().front());
  REQUIRE(factors.numel() == 4);
  // Reference, in double: keep short wavelengths (< 64/4), stretch long ones (> 64/1) by 8,
  // interpolate 1/factor linearly in 64/wavelength between.
  for (int64_t i = 0; i < 4; ++i) {
    const double wavelen = 2 * M_PI * std::pow(10000.0, 2.0 * i / 8);
    const double smooth = (64 / wavelen - 1.0) / (4.0 - 1.0);
    const double want = wavelen < 16 ? 1 : wavelen > 64 ? 8 : 1 / ((1 - smooth) / 8 + smooth);
    INFO(i);
    CHECK(std::abs(factors[i].item<double>() - want) <= 1e-6 * want);
  }
  CHECK(factors[1].item<double>() > 1.0);  // the interpolated band is exercised
  CHECK(factors[1].item<double>() < 8.0);
  const auto gguf = open_model(dir.path("r.gguf"));
  CHECK(gguf->config().rope_freq_factors.size() == 4);
  CHECK(max_logit_difference(hf, dir.path("r.gguf")) < 1e-4);
  // Without the factors the slow dimensions rotate differently: the comparison above can fail.
  nlohmann::json plain = config;
  plain.erase("rope_scaling");
  std::filesystem::create_directories(dir.path("plain"));
  for (const char* name : {"model.safetensors", "tokenizer.model"})
    std::filesystem::copy_file(dir.path(std::string("m/") + name), dir.path(std::string("plain/") + name));
  std::ofstream(dir.path("plain/config.json")) << plain.dump();
  CHECK(max_logit_difference(hf, dir.path("plain")) > 1e-3);
}

TEST_CASE("GGUF export: add_bos/add_eos follow tokenizer_config.json, default BOS only", "[gguf_export]") {
  test::ScratchDir dir;
  const std::string hf = write_model(dir, test::tiny_config("llama"));
  auto flags = [&](const std::string& name) {
    export_f32(hf, dir.path(name));
    const GgufFile f(dir.path(name));
    return std::pair{f.find("tokenizer.ggml.add_bos_token")->as_bool(), f.find("tokenizer.ggml.add_eos_token")->as_bool()};
  };
  CHECK(flags("default.gguf") == std::pair{true, false});
  std::ofstream(dir.path("m/tokenizer_config.json")) << R"({"add_bos_token": false, "add_eos_token": true})";
  CHECK(flags("set.gguf") == std::pair{false, true});
  std::ofstream(dir.path("m/tokenizer_config.json")) << R"({"add_eos_token": true})";
  CHECK(flags("eos.gguf") == std::pair{true, true});
  std::ofstream(dir.path("m/tokenizer_config.json")) << R"({"add_bos_token": "yes"})";
  const auto r = test::run_modelpress("export -q --type F32 -m '" + hf + "' -o " + dir.path("bad.gguf"));
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("tokenizer_config.json: add_bos_token must be true or false") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.path("bad.gguf")));
}

TEST_CASE("GGUF export of qwen3: qwen3 keys, attn_q_norm/attn_k_norm, head_dim, reads back with equal logits",
          "[gguf_export]") {
  test::ScratchDir dir;
  nlohmann::json config = test::tiny_config("qwen3");
  config["head_dim"] = 16;
  const std::string hf = write_model(dir, config);
  export_f32(hf, dir.path("q3.gguf"));
  const GgufFile f(dir.path("q3.gguf"));
  CHECK(f.find("general.architecture")->as_string() == "qwen3");
  CHECK(f.find("qwen3.attention.key_length")->as_uint() == 16);
  CHECK(f.find("qwen3.attention.value_length")->as_uint() == 16);
  CHECK(f.find("qwen3.rope.dimension_count") == nullptr);
  CHECK(f.find_tensor("blk.0.attn_q.bias") == nullptr);
  // Per layer in HF-name order: ... o_proj, q_norm, q_proj ...; rows as HF stores them (NEOX rope).
  std::vector<std::string> layer0;
  for (const auto& t : f.tensors())
    if (t.name.rfind("blk.0.", 0) == 0) layer0.push_back(t.name);
  CHECK(layer0 == std::vector<std::string>{"blk.0.attn_norm.weight", "blk.0.ffn_down.weight", "blk.0.ffn_gate.weight",
                                           "blk.0.ffn_up.weight", "blk.0.ffn_norm.weight", "blk.0.attn_k_norm.weight",
                                           "blk.0.attn_k.weight", "blk.0.attn_output.weight", "blk.0.attn_q_norm.weight",
                                           "blk.0.attn_q.weight", "blk.0.attn_v.weight"});
  const auto source = open_model(hf);
  for (const auto& [gguf, part] : {std::pair{"blk.1.attn_q.weight", "self_attn.q_proj.weight"},
                                   {"blk.1.attn_q_norm.weight", "self_attn.q_norm.weight"},
                                   {"blk.1.attn_k_norm.weight", "self_attn.k_norm.weight"}}) {
    INFO(gguf);
    REQUIRE(f.find_tensor(gguf) != nullptr);
    CHECK(at::equal(f.tensor(*f.find_tensor(gguf)), source->tensor(hf_names::layer(1, part))));
  }
  const auto back = open_model(dir.path("q3.gguf"));
  CHECK(back->config().model_type == "qwen3");
  CHECK(back->config().head_dim == 16);
  CHECK(max_logit_difference(hf, dir.path("q3.gguf")) < 1e-4);
}

TEST_CASE("GGUF export refuses a sliding window llama.cpp's architecture would ignore", "[gguf_export]") {
  test::ScratchDir dir;
  nlohmann::json config = test::tiny_config("mistral");
  config["sliding_window"] = 64;
  const std::string hf = write_model(dir, config);
  const auto r = test::run_modelpress("export -q --type F32 -m '" + hf + "' -o " + dir.path("w.gguf"));
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("llama.cpp's \"llama\" has no sliding-window attention") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.path("w.gguf")));
}

TEST_CASE("GGUF export of gemma2 and gemma3: their keys, norms stored as 1 + w, sandwich-norm names", "[gguf_export]") {
  test::ScratchDir dir;
  nlohmann::json gemma2 = test::tiny_config("gemma2");
  gemma2["head_dim"] = 16;
  gemma2["query_pre_attn_scalar"] = 16;
  gemma2["sliding_window"] = 6;
  gemma2["tie_word_embeddings"] = true;
  const std::string hf = write_model(dir, gemma2);
  export_f32(hf, dir.path("g2.gguf"));
  const GgufFile f(dir.path("g2.gguf"));
  CHECK(f.find("general.architecture")->as_string() == "gemma2");
  CHECK(f.find("gemma2.attn_logit_softcapping")->as_float() == 50.0);  // HF's defaults
  CHECK(f.find("gemma2.final_logit_softcapping")->as_float() == 30.0);
  CHECK(f.find("gemma2.attention.sliding_window")->as_uint() == 6);
  CHECK(f.find("gemma2.attention.key_length")->as_uint() == 16);
  CHECK(f.find_tensor("output.weight") == nullptr);
  const auto source = open_model(hf);
  for (const auto& [gguf, hf_name] :
       {std::pair{"blk.1.attn_norm.weight", "model.layers.1.input_layernorm.weight"},
        {"blk.1.post_attention_norm.weight", "model.layers.1.post_attention_layernorm.weight"},
        {"blk.1.ffn_norm.weight", "model.layers.1.pre_feedforward_layernorm.weight"},
        {"blk.1.post_ffw_norm.weight", "model.layers.1.post_feedforward_layernorm.weight"},
        {"output_norm.weight", "model.norm.weight"}}) {
    INFO(gguf);
    REQUIRE(f.find_tensor(gguf) != nullptr);
    CHECK(at::equal(f.tensor(*f.find_tensor(gguf)), source->tensor(hf_name) + 1));
  }
  CHECK(at::equal(f.tensor(*f.find_tensor("blk.1.attn_q.weight")), source->tensor("model.layers.1.self_attn.q_proj.weight")));
  CHECK(max_logit_difference(hf, dir.path("g2.gguf")) < 1e-4);

  nlohmann::json gemma3 = test::tiny_config("gemma3_text");
  gemma3["head_dim"] = 16;
  gemma3["query_pre_attn_scalar"] = 16;
  gemma3["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 8.0}};
  gemma3["tie_word_embeddings"] = true;
  gemma3.erase("rope_theta");  // HF's gemma3 default, 1e6
  test::ScratchDir dir3;
  const std::string hf3 = write_model(dir3, gemma3);
  export_f32(hf3, dir3.path("g3.gguf"));
  const GgufFile g(dir3.path("g3.gguf"));
  CHECK(g.find("general.architecture")->as_string() == "gemma3");
  CHECK(g.find("gemma3.rope.freq_base")->as_float() == 1000000.0);
  CHECK(g.find("gemma3.rope.freq_base_swa")->as_float() == 10000.0);
  CHECK(g.find("gemma3.rope.scaling.type")->as_string() == "linear");
  CHECK(g.find("gemma3.rope.scaling.factor")->as_float() == 8.0);
  CHECK(g.find("gemma3.attention.sliding_window")->as_uint() == 4096);
  CHECK(g.find("gemma3.attn_logit_softcapping") == nullptr);
  CHECK(g.find("gemma3.final_logit_softcapping") == nullptr);
  const auto source3 = open_model(hf3);
  CHECK(at::equal(g.tensor(*g.find_tensor("blk.0.attn_q_norm.weight")),
                  source3->tensor("model.layers.0.self_attn.q_norm.weight") + 1));
  CHECK(max_logit_difference(hf3, dir3.path("g3.gguf")) < 1e-4);
}

TEST_CASE("GGUF export of gemma refuses what llama.cpp's gemma cannot run as HF does", "[gguf_export]") {
  test::ScratchDir dir;
  nlohmann::json gemma2 = test::tiny_config("gemma2");
  gemma2["tie_word_embeddings"] = true;
  gemma2["head_dim"] = 16;
  gemma2["query_pre_attn_scalar"] = 24;  // llama.cpp scales by 1/√head_dim at this size
  const std::string hf = write_model(dir, gemma2);
  auto r = test::run_modelpress("export -q --type F32 -m '" + hf + "' -o " + dir.path("a.gguf"));
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("query_pre_attn_scalar") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.path("a.gguf")));
  gemma2["query_pre_attn_scalar"] = 16;
  gemma2["layer_types"] = {"full_attention", "sliding_attention"};  // llama.cpp slides the even layers
  std::ofstream(dir.path("m/config.json")) << gemma2.dump();
  r = test::run_modelpress("export -q --type F32 -m '" + hf + "' -o " + dir.path("b.gguf"));
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("slides the window on layers i with i mod 2 < 1 only") != std::string::npos);
}
