#include "tests/llamacpp_support.h"

#include <filesystem>
#include <fstream>

#include "formats/gguf_export.h"
#include "formats/safetensors.h"
#include "lib/base/version.h"
#include "lib/runtime/generate.h"
#include "lib/runtime/llama_model.h"
#include "lib/runtime/runtime.h"

namespace mp::test {

namespace {

// Runs tests/llamacpp/SCRIPT with node-llama-cpp and returns its standard output (one JSON line).
nlohmann::json run_node(const std::string& script, const std::string& args) {
  const std::string root = mp::source_dir();
  const std::string entry = root + "/.cache/node/node_modules/node-llama-cpp/dist/index.js";
  REQUIRE(std::filesystem::exists(entry));  // run scripts/fetch-llamacpp.sh first
  ScratchDir dir;
  const std::string cmd = "NODE_LLAMA_CPP='" + entry + "' node '" + root + "/tests/llamacpp/" + script + "' " + args + " >" +
                          dir.path("out") + " 2>" + dir.path("err");
  const int status = std::system(cmd.c_str());
  INFO(read_file(dir.path("err")));
  REQUIRE(status == 0);
  return nlohmann::json::parse(read_file(dir.path("out")));
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

}  // namespace

LlamaCppGreedy llamacpp_greedy(const std::string& gguf, const std::string& prompt, int n) {
  const auto j = run_node("greedy.mjs", "'" + gguf + "' '" + prompt + "' " + std::to_string(n));
  return {j["prompt_ids"].get<std::vector<int32_t>>(), j["ids"].get<std::vector<int32_t>>(), j["text"]};
}

std::vector<std::vector<int32_t>> llamacpp_tokenize(const std::string& gguf, const std::vector<std::string>& texts) {
  ScratchDir dir;
  std::ofstream(dir.path("texts.json")) << nlohmann::json(texts).dump();
  return run_node("tokenize.mjs", "'" + gguf + "' '" + dir.path("texts.json") + "'")
      .get<std::vector<std::vector<int32_t>>>();
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

std::string write_decisive_model(const ScratchDir& dir, const std::string& name, const nlohmann::json& config,
                                 int64_t predictable) {
  std::map<std::string, at::Tensor> tensors = write_random_model(dir.path(name), config, 9);
  const at::Tensor embed = tensors.at(hf_names::embed);
  const int64_t vocab = embed.size(0), hidden = embed.size(1), end = predictable > 0 ? predictable : vocab;
  const at::Tensor successor = at::randperm(end - 3, at::kLong) + 3;
  at::Tensor head = at::zeros({vocab, hidden});
  head.index_copy_(0, successor, embed.narrow(0, 3, end - 3) * (4.0 / std::sqrt(static_cast<double>(hidden))));
  tensors[hf_names::lm_head] = head;
  const double f = config["intermediate_size"].get<double>();
  for (auto& [tensor, value] : tensors) {
    if (tensor.find("o_proj.weight") != std::string::npos) value = value * (7.5 / hidden);
    if (tensor.find("down_proj.weight") != std::string::npos) value = value * (75.0 / (hidden * std::sqrt(f)));
  }
  save_safetensors(dir.path(name + "/model.safetensors"),
                   std::vector<std::pair<std::string, at::Tensor>>(tensors.begin(), tensors.end()));
  return dir.path(name);
}

void check_same_greedy_path(const std::string& gguf, int n, const std::string& prompt) {
  const LlamaCppGreedy theirs = llamacpp_greedy(gguf, prompt, n);
  const std::vector<int32_t> ours = our_greedy(gguf, theirs.prompt_ids, n);
  CHECK(theirs.ids == ours);
  const double margin = greedy_margin(gguf, theirs.prompt_ids, ours);
  INFO("smallest top-1 margin " << margin);
  CHECK(margin > 2.0);
}

}  // namespace mp::test
