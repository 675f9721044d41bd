// phi3 (Phi-3/3.5-mini, Phi-4-mini) beyond the forward pass (tests/test_model_forward.cpp): its GGUF
// export follows convert_hf_to_gguf.py's Phi3MiniModel (fused attn_qkv and ffn_up, the rotated
// dimensions, longrope's factors as rope_factors_long/short) and reads back with equal logits; and
// checkpoints or configs it cannot run as written are one line of bad input, exit 3, no output.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include "formats/gguf_export.h"
#include "formats/gguf_file.h"
#include "formats/safetensors.h"
#include "lib/runtime/llama_model.h"
#include "tests/test_support.h"

using namespace mp;

namespace {

// Phi-4-mini's shape at small size: 3/4 of each head rotates, longrope stretched 4x (attention factor
// √(1 + ln 4 / ln 32)), a 40-wide window on every layer.
nlohmann::json phi3_config() {
  auto c = test::tiny_config("phi3");
  c["head_dim"] = 16;
  c["partial_rotary_factor"] = 0.75;
  c["max_position_embeddings"] = 128;
  c["original_max_position_embeddings"] = 32;
  c["sliding_window"] = 40;
  c["rope_scaling"] = {{"type", "longrope"},
                       {"short_factor", {1.0, 1.25, 1.5, 2.0, 3.0, 4.0}},
                       {"long_factor", {1.0, 2.0, 4.0, 8.0, 16.0, 32.0}}};
  return c;
}

std::map<std::string, at::Tensor> write_model(const test::ScratchDir& dir, const nlohmann::json& config) {
  auto tensors = test::write_random_model(dir.path("m"), config, 17);
  std::filesystem::copy_file(test::shared_path("models/stories260K/tokenizer.model"), dir.path("m/tokenizer.model"));
  return tensors;
}

std::vector<float> floats(const at::Tensor& t) {
  const at::Tensor c = t.reshape({-1}).to(at::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

// Exporting (or generating from) `model` fails as bad input with `message`, leaving no output.
void check_refused(const test::ScratchDir& dir, const std::string& model, const std::string& message) {
  const auto r = test::run_modelpress("export -q --type F32 -m '" + model + "' -o '" + dir.path("out.gguf") + "'");
  INFO(r.err);
  CHECK(r.exit_code == 3);
  CHECK(r.err.find(message) != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK_FALSE(std::filesystem::exists(dir.path("out.gguf")));
}

}  // namespace

TEST_CASE("GGUF export of phi3: fused tensors, rotated dimensions, longrope factors, equal logits", "[phi3][gguf_export]") {
  test::ScratchDir dir;
  write_model(dir, phi3_config());
  const std::string hf = dir.path("m");
  GgufExportOptions options;
  options.type = parse_gguf_export_type("F32", false);
  export_gguf(*open_model(hf), dir.path("p.gguf"), options);
  const GgufFile f(dir.path("p.gguf"));
  CHECK(f.find("general.architecture")->as_string() == "phi3");
  CHECK(f.find("phi3.rope.dimension_count")->as_uint() == 12);
  CHECK(f.find("phi3.rope.scaling.original_context_length")->as_uint() == 32);
  CHECK(f.find("phi3.context_length")->as_uint() == 128);
  CHECK(f.find("phi3.attention.sliding_window")->as_uint() == 40);
  CHECK(std::abs(f.find("phi3.rope.scaling.attn_factor")->as_float() - std::sqrt(1 + std::log(4.0) / std::log(32.0))) < 1e-6);
  CHECK(floats(f.tensor(*f.find_tensor("rope_factors_long.weight"))) == std::vector<float>{1, 2, 4, 8, 16, 32});
  CHECK(floats(f.tensor(*f.find_tensor("rope_factors_short.weight"))) == std::vector<float>{1, 1.25, 1.5, 2, 3, 4});
  std::vector<std::string> layer0;
  for (const auto& t : f.tensors())
    if (t.name.rfind("blk.0.", 0) == 0) layer0.push_back(t.name);
  CHECK(layer0 == std::vector<std::string>{"blk.0.attn_norm.weight", "blk.0.ffn_down.weight", "blk.0.ffn_up.weight",
                                           "blk.0.ffn_norm.weight", "blk.0.attn_output.weight", "blk.0.attn_qkv.weight"});
  const auto source = open_model(hf);
  // As HF stores them: llama.cpp splits attn_qkv into [q; k; v] and ffn_up into [gate; up].
  CHECK(at::equal(f.tensor(*f.find_tensor("blk.1.attn_qkv.weight")), source->tensor("model.layers.1.self_attn.qkv_proj.weight")));
  CHECK(at::equal(f.tensor(*f.find_tensor("blk.1.ffn_up.weight")), source->tensor("model.layers.1.mlp.gate_up_proj.weight")));
  LlamaModel a(source, RuntimeOptions{}), b(open_model(dir.path("p.gguf")), RuntimeOptions{});
  CHECK(b.config().rotated_dims() == 12);
  CHECK(b.config().attention_window(0) == 40);
  at::manual_seed(1);
  for (int64_t n : {24, 60}) {  // within the original length (short factors), and beyond it (long)
    INFO(n << " tokens");
    const at::Tensor tokens = at::randint(3, 512, {1, n}, at::kLong);
    CHECK((a.forward(tokens) - b.forward(tokens)).abs().max().item<double>() < 1e-4);
  }
}

TEST_CASE("phi3: a missing qkv_proj, qkv rows that disagree with the heads, bad rope scaling are bad input", "[phi3][hostile]") {
  test::ScratchDir dir;
  auto tensors = write_model(dir, phi3_config());
  const std::string hf = dir.path("m");
  SECTION("missing qkv_proj") {
    tensors.erase("model.layers.1.self_attn.qkv_proj.weight");
    save_safetensors(hf + "/model.safetensors", {tensors.begin(), tensors.end()});
    check_refused(dir, hf, "model.layers.1.self_attn.qkv_proj.weight");
  }
  SECTION("qkv rows for other head counts") {
    auto& qkv = tensors.at("model.layers.0.self_attn.qkv_proj.weight");
    qkv = qkv.narrow(0, 0, qkv.size(0) - 16);
    save_safetensors(hf + "/model.safetensors", {tensors.begin(), tensors.end()});
    check_refused(dir, hf, "self_attn.qkv_proj.weight' has shape");
  }
  auto edit_config = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json c = phi3_config();
    edit(c);
    std::ofstream(hf + "/config.json") << c.dump();
  };
  SECTION("unknown rope type") {
    edit_config([](nlohmann::json& c) { c["rope_scaling"]["type"] = "wobbly"; });
    check_refused(dir, hf, "unsupported rope_scaling type \"wobbly\"");
  }
  SECTION("factors of the wrong length") {
    edit_config([](nlohmann::json& c) { c["rope_scaling"]["long_factor"] = {1.0, 2.0}; });
    check_refused(dir, hf, "rope_scaling \"long_factor\" has 2 values, expected rotary dimension / 2 = 6");
  }
  SECTION("a partial rotary factor leaving less than one rotated pair") {
    edit_config([](nlohmann::json& c) { c["partial_rotary_factor"] = 0.1; });  // 1.6 of 16 dimensions
    check_refused(dir, hf, "\"partial_rotary_factor\" must give an even number of rotated dimensions");
  }
}
