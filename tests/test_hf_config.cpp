// HF config.json parsing for llama, mistral, qwen2 and qwen3, and its errors.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "formats/hf_config.h"
#include "formats/safetensors.h"
#include "lib/base/error.h"
#include "lib/runtime/hf_model_source.h"
#include "tests/test_support.h"

using namespace mp;

TEST_CASE("config: the stories260K reference model", "[config]") {
  ModelConfig c = ModelConfig::load(test::shared_path("models/stories260K"));
  CHECK(c.model_type == "llama");
  CHECK(c.hidden_size == 64);
  CHECK(c.intermediate_size == 172);
  CHECK(c.num_layers == 5);
  CHECK(c.num_heads == 8);
  CHECK(c.num_kv_heads == 4);
  CHECK(c.head_dim == 8);
  CHECK(c.vocab_size == 512);
  CHECK(c.tie_word_embeddings);
  CHECK(c.rms_norm_eps == Approx(1e-5));
  CHECK_FALSE(c.qkv_bias);
}

TEST_CASE("config: architecture-specific keys", "[config]") {
  auto j = test::tiny_config("qwen2");
  CHECK(ModelConfig::from_json(j, "q.json").qkv_bias);
  j = test::tiny_config("llama");
  j["attention_bias"] = true;
  j["head_dim"] = 16;
  ModelConfig c = ModelConfig::from_json(j, "l.json");
  CHECK(c.qkv_bias);
  CHECK(c.o_bias);
  CHECK(c.head_dim == 16);
  j = test::tiny_config("mistral");
  j["sliding_window"] = 4096;
  j["eos_token_id"] = {2, 7};
  c = ModelConfig::from_json(j, "m.json");
  CHECK(c.sliding_window == 4096);
  CHECK(c.eos_token_id == 2);
  j = test::tiny_config("llama");
  j.erase("num_key_value_heads");
  CHECK(ModelConfig::from_json(j, "x.json").num_kv_heads == 4);
}

TEST_CASE("config: errors name the file and the key", "[config]") {
  auto j = test::tiny_config("llama");
  j.erase("hidden_size");
  CHECK_THROWS_WITH(ModelConfig::from_json(j, "c.json"), "c.json: missing required key \"hidden_size\"");
  j = test::tiny_config("gpt2");
  CHECK_THROWS_WITH(ModelConfig::from_json(j, "c.json"), Catch::Contains("unsupported model_type \"gpt2\""));
  j = test::tiny_config("phimoe");
  CHECK_THROWS_WITH(ModelConfig::from_json(j, "c.json"),
                    "c.json: unsupported model_type \"phimoe\" (supported: llama, mistral, qwen2, qwen3, gemma2, gemma3_text, phi3)");
  j = test::tiny_config("llama");
  j["num_hidden_layers"] = "five";
  CHECK_THROWS_WITH(ModelConfig::from_json(j, "c.json"), Catch::Contains("\"num_hidden_layers\" has the wrong type"));
  j = test::tiny_config("llama");
  j["num_key_value_heads"] = 3;
  CHECK_THROWS_WITH(ModelConfig::from_json(j, "c.json"), Catch::Contains("multiple of num_key_value_heads"));
  j = test::tiny_config("llama");
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  CHECK_THROWS_WITH(ModelConfig::from_json(j, "c.json"), Catch::Contains("unsupported rope_scaling type \"yarn\""));
  j = test::tiny_config("llama");
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  CHECK_THROWS_WITH(ModelConfig::from_json(j, "c.json"), Catch::Contains("missing required key \"low_freq_factor\""));

  test::ScratchDir dir;
  std::ofstream(dir.path("config.json")) << "{ not json";
  CHECK_THROWS_WITH(ModelConfig::load(dir.path()), Catch::Contains("config.json: not valid JSON"));
}

TEST_CASE("model directories: tied vs untied heads and missing tensors", "[config]") {
  test::ScratchDir dir;
  auto untied = test::tiny_config("llama");
  test::write_random_model(dir.path("untied"), untied, 1);
  HfModelSource source(dir.path("untied"));
  CHECK(source.has("lm_head.weight"));

  auto claims_untied = test::tiny_config("llama");
  claims_untied["tie_word_embeddings"] = true;
  test::write_random_model(dir.path("tied"), claims_untied, 1);
  CHECK_FALSE(HfModelSource(dir.path("tied")).has("lm_head.weight"));
  // Config says untied but the head is missing.
  std::ofstream(dir.path("tied") + "/config.json") << untied.dump();
  CHECK_THROWS_WITH(HfModelSource(dir.path("tied")), Catch::Contains("no lm_head.weight and tie_word_embeddings is false"));

  auto r = test::run_modelpress("eval -m '" + dir.path("nowhere") + "' -f /dev/null");
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("no such file or directory") != std::string::npos);
}

TEST_CASE("config: qwen3 and the sliding-window keys of each family", "[config]") {
  auto j = test::tiny_config("qwen3");
  j["head_dim"] = 16;
  ModelConfig c = ModelConfig::from_json(j, "q3.json");
  CHECK(c.qk_norm);
  CHECK(c.head_dim == 16);
  CHECK(c.q_size() == 64);
  CHECK_FALSE(c.qkv_bias);
  j["attention_bias"] = true;
  c = ModelConfig::from_json(j, "q3.json");
  CHECK((c.qkv_bias && c.o_bias));
  // Qwen: the window needs use_sliding_window, and reaches the layers from max_window_layers on ...
  j = test::tiny_config("qwen2");
  j["sliding_window"] = 8;
  CHECK(ModelConfig::from_json(j, "q2.json").attention_window(1) == 0);
  j["use_sliding_window"] = true;
  j["max_window_layers"] = 1;
  c = ModelConfig::from_json(j, "q2.json");
  CHECK(c.attention_window(0) == 0);
  CHECK(c.attention_window(1) == 8);
  // ... or those layer_types names, when it is given.
  j["layer_types"] = {"sliding_attention", "full_attention"};
  c = ModelConfig::from_json(j, "q2.json");
  CHECK(c.attention_window(0) == 8);
  CHECK(c.attention_window(1) == 0);
  j["layer_types"] = {"sliding_attention"};
  CHECK_THROWS_WITH(ModelConfig::from_json(j, "q2.json"), "q2.json: \"layer_types\" has 1 entries for 2 layers");
  j["layer_types"] = {"sliding_attention", "chunked_attention"};
  CHECK_THROWS_WITH(ModelConfig::from_json(j, "q2.json"), Catch::Contains("unknown layer type \"chunked_attention\""));
  // Mistral: every layer.
  j = test::tiny_config("mistral");
  j["sliding_window"] = 6;
  c = ModelConfig::from_json(j, "m.json");
  CHECK((c.attention_window(0) == 6 && c.attention_window(1) == 6));
  j["sliding_window"] = -1;
  CHECK_THROWS_WITH(ModelConfig::from_json(j, "m.json"), "m.json: \"sliding_window\" must not be negative");
}

TEST_CASE("bad qwen3 checkpoints: one line naming the problem, exit 3, no output", "[config]") {
  test::ScratchDir dir;
  auto j = test::tiny_config("qwen3");
  test::write_random_model(dir.path("m"), j, 1);
  // A checkpoint without the q_norm its architecture needs.
  auto tensors = SafetensorsFile(dir.path("m/model.safetensors"));
  std::vector<std::pair<std::string, at::Tensor>> kept;
  for (const auto& info : tensors.tensors())
    if (info.name != "model.layers.1.self_attn.q_norm.weight") kept.emplace_back(info.name, tensors.tensor(info).clone());
  save_safetensors(dir.path("m/model.safetensors"), kept);
  std::filesystem::copy_file(test::shared_path("models/stories260K/tokenizer.model"), dir.path("m/tokenizer.model"));
  auto r = test::run_modelpress("export -q --type F32 -m '" + dir.path("m") + "' -o " + dir.path("out.gguf"));
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("no tensor 'model.layers.1.self_attn.q_norm.weight'") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK_FALSE(std::filesystem::exists(dir.path("out.gguf")));
  r = test::run_modelpress("generate -m '" + dir.path("m") + "' -p hello -n 2");
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("no tensor model.layers.1.self_attn.q_norm.weight") != std::string::npos);
  // Head counts that do not divide, and a rope scaling we do not implement.
  j["num_key_value_heads"] = 3;
  CHECK_THROWS_WITH(ModelConfig::from_json(j, "c.json"), Catch::Contains("multiple of num_key_value_heads"));
  j = test::tiny_config("qwen3");
  j["rope_scaling"] = {{"rope_type", "dynamic"}, {"factor", 2.0}};
  CHECK_THROWS_WITH(ModelConfig::from_json(j, "c.json"), Catch::Contains("unsupported rope_scaling type \"dynamic\""));
}
