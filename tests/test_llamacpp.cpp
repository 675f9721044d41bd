// modelpress's GGUF exports in a real llama.cpp (node-llama-cpp's prebuilt binaries, run by
// tests/llamacpp/greedy.mjs). Hidden tag: these need .cache/node (scripts/fetch-llamacpp.sh) and
// run as their own ctest entry, which CMake adds only when that install exists. Asked for
// explicitly without it, they fail rather than skip.
#include <filesystem>
#include <fstream>

#include "formats/gguf_export.h"
#include "lib/generate.h"
#include "lib/llama_model.h"
#include "tests/test_support.h"
#include "lib/version.h"

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

TEST_CASE("llama.cpp runs our k-quant exports of a 256-wide model like we do", "[.llamacpp]") {
  test::ScratchDir dir;
  nlohmann::json config = test::kquant_config();
  test::write_random_model(dir.path("m"), config, 9);
  std::filesystem::copy_file(test::shared_path("models/stories260K/tokenizer.model"), dir.path("m/tokenizer.model"));
  for (const std::string type : {"Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_S", "Q6_K", "IQ4_XS"}) {
    INFO(type);
    const std::string path = dir.path(type + ".gguf");
    export_to(dir.path("m"), path, type);
    // llama.cpp multiplies k-quant weights with 8-bit-quantized activations; on a random model the
    // logits are near-ties, so greedy paths part after a few tokens. The first ones must agree.
    const LlamaCppGreedy theirs = llamacpp_greedy(path, "Once upon a time", 4);
    CHECK(theirs.ids == our_greedy(path, theirs.prompt_ids, 4));
  }
}
