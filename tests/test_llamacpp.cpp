// modelpress's GGUF exports in a real llama.cpp (node-llama-cpp's prebuilt binaries, run by
// tests/llamacpp/greedy.mjs). Hidden tag: these need .cache/node (scripts/fetch-llamacpp.sh) and
// run as their own ctest entry, which CMake adds only when that install exists. Asked for
// explicitly without it, they fail rather than skip.
#include <filesystem>

#include "tests/llamacpp_support.h"

using namespace mp;
using namespace mp::test;

namespace {

std::string decisive_model_with_stories_tokenizer(const ScratchDir& dir, const std::string& name,
                                                  const nlohmann::json& config) {
  const std::string model = write_decisive_model(dir, name, config);
  std::filesystem::copy_file(shared_path("models/stories260K/tokenizer.model"), model + "/tokenizer.model");
  return model;
}

// Our exports of a decisive random model of `config`, one per type, give llama.cpp our greedy path;
// the F32 one also the HF model's (the file means what the checkpoint means).
void check_exports_agree(const test::ScratchDir& dir, const std::string& name, const nlohmann::json& config,
                         const std::vector<std::string>& types) {
  INFO(name);
  const std::string model = decisive_model_with_stories_tokenizer(dir, name, config);
  for (const std::string& type : types) {
    INFO(type);
    const std::string path = dir.path(name + "-" + type + ".gguf");
    export_to(model, path, type);
    check_same_greedy_path(path, 40);
    if (type == "F32") {
      const LlamaCppGreedy theirs = llamacpp_greedy(path, "Once upon a time", 40);
      CHECK(theirs.ids == our_greedy(model, theirs.prompt_ids, 40));
    }
  }
}

}  // namespace

TEST_CASE("llama.cpp runs our stories260K exports like we do", "[.llamacpp]") {
  test::ScratchDir dir;
  const std::string hf = test::shared_path("models/stories260K");
  // ../shared/README.md: the reference continuation of "Once upon a time".
  const std::vector<int32_t> reference = {432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338,
                                          401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282,
                                          295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352,
                                          266, 268, 388, 426, 338, 391, 266, 267, 337, 335, 312, 432};
  for (const std::string type : {"F32", "F16", "Q8_0", "Q4_0"}) {
    INFO(type);
    const std::string path = dir.path(type + ".gguf");
    export_to(hf, path, type);
    const LlamaCppGreedy theirs = llamacpp_greedy(path, "Once upon a time", 48);
    CHECK(theirs.prompt_ids == std::vector<int32_t>{1, 403, 407, 261, 378});
    const std::vector<int32_t> ours = our_greedy(path, theirs.prompt_ids, 48);
    CHECK(theirs.ids == ours);
    if (type == "F32") {
      CHECK(theirs.ids == reference);
      CHECK(theirs.text ==
            ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw "
            "a big, red ball. She wanted to play with it,");
    }
  }
}

TEST_CASE("llama.cpp runs our k-quant exports of a 256-wide model like we do, for the full length", "[.llamacpp]") {
  test::ScratchDir dir;
  const std::string model = decisive_model_with_stories_tokenizer(dir, "m", test::kquant_config());
  for (const std::string type : {"Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "IQ4_XS"}) {
    INFO(type);
    export_to(model, dir.path(type + ".gguf"), type);
    check_same_greedy_path(dir.path(type + ".gguf"), 40);
  }
}

TEST_CASE("llama.cpp runs our qwen2 and llama3-rope exports like we do", "[.llamacpp]") {
  test::ScratchDir dir;
  nlohmann::json qwen2 = test::tiny_config("qwen2");
  qwen2["hidden_size"] = 64;
  qwen2["intermediate_size"] = 128;
  nlohmann::json llama3 = test::tiny_config("llama");
  llama3["hidden_size"] = 64;
  llama3["intermediate_size"] = 128;
  llama3["max_position_embeddings"] = 256;
  llama3["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                            {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 64}};
  check_exports_agree(dir, "qwen2", qwen2, {"F32", "Q8_0"});
  check_exports_agree(dir, "llama3", llama3, {"F32", "Q8_0"});
}

TEST_CASE("llama.cpp runs our qwen3 exports like we do", "[.llamacpp]") {
  test::ScratchDir dir;
  nlohmann::json qwen3 = test::kquant_config();  // rows fill Q4_K_M's 256-wide super-blocks
  qwen3["model_type"] = "qwen3";
  qwen3["head_dim"] = 128;  // q is 512 wide on a 256-wide model, as in Qwen3's released sizes
  check_exports_agree(dir, "qwen3", qwen3, {"F32", "Q4_K_M"});
}

TEST_CASE("llama.cpp runs our gemma2 and gemma3 exports like we do, past the sliding window", "[.llamacpp]") {
  test::ScratchDir dir;
  nlohmann::json gemma2 = test::kquant_config();
  gemma2["model_type"] = "gemma2";
  gemma2["num_hidden_layers"] = 3;
  gemma2["head_dim"] = 64;
  gemma2["query_pre_attn_scalar"] = 64;
  gemma2["sliding_window"] = 8;  // the 40 generated tokens run far past it
  gemma2["tie_word_embeddings"] = true;
  // Gemma's head is its embedding matrix, so the decisive model predicts each token itself (see
  // docs/architectures.md); HF's cap of 30 would squeeze that margin below the test's 2.
  gemma2["final_logit_softcapping"] = 500.0;
  nlohmann::json gemma3 = gemma2;
  gemma3["model_type"] = "gemma3_text";
  gemma3.erase("attn_logit_softcapping");
  gemma3["final_logit_softcapping"] = nullptr;
  gemma3["num_hidden_layers"] = 6;  // llama.cpp's pattern: layers 0-4 slide, layer 5 is global
  gemma3["rope_theta"] = 10000.0;
  gemma3["rope_local_base_freq"] = 100.0;
  gemma3["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 4.0}};
  check_exports_agree(dir, "gemma2", gemma2, {"F32", "Q4_K_M"});
  check_exports_agree(dir, "gemma3", gemma3, {"F32", "Q4_K_M"});
}

TEST_CASE("llama.cpp runs our phi3 exports like we do", "[.llamacpp]") {
  test::ScratchDir dir;
  nlohmann::json phi3 = test::kquant_config();  // rows fill Q4_K_M's 256-wide super-blocks
  phi3["model_type"] = "phi3";
  phi3["partial_rotary_factor"] = 0.75;  // Phi-4-mini's: 48 of 64 dimensions rotate
  // Phi-3.5-mini's longrope at small size: llama.cpp's 256-token context is within the original
  // length, so both take the short factors, and the attention factor of the 2x stretch.
  phi3["max_position_embeddings"] = 8192;
  phi3["original_max_position_embeddings"] = 4096;
  std::vector<double> short_factor, long_factor;
  for (int i = 0; i < 24; ++i) {
    short_factor.push_back(1.0 + 0.1 * i);
    long_factor.push_back(1.0 + i);
  }
  phi3["rope_scaling"] = {{"type", "longrope"}, {"short_factor", short_factor}, {"long_factor", long_factor}};
  // Not named "phi3": llama.cpp's vocabulary loader takes a general.name containing it for Phi-3's
  // own vocabulary and looks up its special tokens, which the stories260K vocabulary lacks.
  check_exports_agree(dir, "fused-longrope", phi3, {"F32", "Q4_K_M"});
}
