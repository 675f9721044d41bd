// modelpress's GGUF exports in a real llama.cpp (node-llama-cpp's prebuilt binaries, run by
// tests/llamacpp/greedy.mjs). Hidden tag: these need .cache/node (scripts/fetch-llamacpp.sh) and
// run as their own ctest entry, which CMake adds only when that install exists. Asked for
// explicitly without it, they fail rather than skip.
#include <filesystem>
#include <fstream>

#include "formats/gguf_export.h"
#include "formats/safetensors.h"
#include "lib/runtime/generate.h"
#include "lib/runtime/llama_model.h"
#include "lib/runtime/runtime.h"
#include "tests/test_support.h"
#include "lib/base/version.h"

using namespace mp;

namespace {

struct LlamaCppGreedy {
  std::vector<int32_t> prompt_ids, ids;
  std::string text;
};

LlamaCppGreedy llamacpp_greedy(const std::string& gguf, const std::string& prompt, int n) {
  const std::string root = mp::source_dir();
  const std::string entry = root + "/.cache/node/node_modules/node-llama-cpp/dist/index.js";
  REQUIRE(std::filesystem::exists(entry));  // run scripts/fetch-llamacpp.sh first
  test::ScratchDir dir;
  const std::string cmd = "NODE_LLAMA_CPP='" + entry + "' node '" + root + "/tests/llamacpp/greedy.mjs' '" + gguf +
                          "' '" + prompt + "' " + std::to_string(n) + " >" + dir.path("out") + " 2>" + dir.path("err");
  const int status = std::system(cmd.c_str());
  std::ifstream out(dir.path("out")), err(dir.path("err"));
  const std::string text((std::istreambuf_iterator<char>(out)), {}), errors((std::istreambuf_iterator<char>(err)), {});
  INFO(errors);
  REQUIRE(status == 0);
  const auto j = nlohmann::json::parse(text);
  return {j["prompt_ids"].get<std::vector<int32_t>>(), j["ids"].get<std::vector<int32_t>>(), j["text"]};
}

std::vector<int32_t> our_greedy(const std::string& model_path, const std::vector<int32_t>& prompt, int n) {
  LlamaModel model(open_model(model_path), RuntimeOptions{});
  SamplingOptions greedy;
  greedy.max_new_tokens = n;
  greedy.stop_at_eos = false;
  return generate(model, prompt, greedy).new_tokens;
}

void export_to(const std::string& model, const std::string& out, const std::string& type) {
  GgufExportOptions options;
  options.type = parse_gguf_export_type(type, false);
  export_gguf(*open_model(model), out, options);
}

// A random model whose greedy path is decided by a wide margin, so two implementations that round
// differently (llama.cpp multiplies quantized weights with 8-bit-quantized activations) must still
// agree token for token. Each token s >= 3 predicts a successor π(s): lm_head row π(s) is s's
// embedding, scaled so the right logit stands far above the rest. The decoder layers still move
// the hidden state: write_random_model's weights (std 0.2) give an attention output of std about
// 0.04·h and an MLP output of about 0.004·h·sqrt(f); o_proj and down_proj are scaled so each is
// about 0.3 against the embeddings' 1. unk/BOS/EOS are never predicted.
std::string write_decisive_model(const test::ScratchDir& dir, const std::string& name, const nlohmann::json& config) {
  std::map<std::string, at::Tensor> tensors = test::write_random_model(dir.path(name), config, 9);
  const at::Tensor embed = tensors.at(hf_names::embed);
  const int64_t vocab = embed.size(0), hidden = embed.size(1);
  const at::Tensor successor = at::randperm(vocab - 3, at::kLong) + 3;
  at::Tensor head = at::zeros({vocab, hidden});
  head.index_copy_(0, successor, embed.narrow(0, 3, vocab - 3) * (4.0 / std::sqrt(static_cast<double>(hidden))));
  tensors[hf_names::lm_head] = head;
  const double f = config["intermediate_size"].get<double>();
  for (auto& [tensor, value] : tensors) {
    if (tensor.find("o_proj.weight") != std::string::npos) value = value * (7.5 / hidden);
    if (tensor.find("down_proj.weight") != std::string::npos) value = value * (75.0 / (hidden * std::sqrt(f)));
  }
  save_safetensors(dir.path(name + "/model.safetensors"),
                   std::vector<std::pair<std::string, at::Tensor>>(tensors.begin(), tensors.end()));
  std::filesystem::copy_file(test::shared_path("models/stories260K/tokenizer.model"), dir.path(name + "/tokenizer.model"));
  return dir.path(name);
}

// The smallest gap between the best and second-best logit along a greedy path, by our forward pass.
double greedy_margin(const std::string& model_path, const std::vector<int32_t>& prompt, const std::vector<int32_t>& ids) {
  LlamaModel model(open_model(model_path), RuntimeOptions{});
  std::vector<int64_t> all(prompt.begin(), prompt.end());
  all.insert(all.end(), ids.begin(), ids.end() - 1);
  const at::Tensor logits = model.forward(at::tensor(all).unsqueeze(0))[0].narrow(0, prompt.size() - 1, ids.size());
  const at::Tensor top = std::get<0>(logits.topk(2, -1));
  return (top.select(1, 0) - top.select(1, 1)).min().item<double>();
}

// llama.cpp and our generate on the same file, for the full length, with a margin checked to be wide.
void check_same_greedy_path(const std::string& gguf, int n) {
  const LlamaCppGreedy theirs = llamacpp_greedy(gguf, "Once upon a time", n);
  const std::vector<int32_t> ours = our_greedy(gguf, theirs.prompt_ids, n);
  CHECK(theirs.ids == ours);
  const double margin = greedy_margin(gguf, theirs.prompt_ids, ours);
  INFO("smallest top-1 margin " << margin);
  CHECK(margin > 2.0);
}

// Our exports of a decisive random model of `config`, one per type, give llama.cpp our greedy path;
// the F32 one also the HF model's (the file means what the checkpoint means).
void check_exports_agree(const test::ScratchDir& dir, const std::string& name, const nlohmann::json& config,
                         const std::vector<std::string>& types) {
  INFO(name);
  const std::string model = write_decisive_model(dir, name, config);
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
  const std::string model = write_decisive_model(dir, "m", test::kquant_config());
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
