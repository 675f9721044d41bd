// Our byte-level BPE GGUF exports in a real llama.cpp: a Llama-3-shaped model with Meta's Llama 3
// tokenizer.json and a Qwen-shaped one with Qwen 3's. llama.cpp must tokenize the check texts (and
// llama.cpp's own vocab test inputs) to the ids our tokenizer.json engine gives, and generate the
// same 40 greedy tokens as `modelpress generate` from the same file. Hidden tag, like test_llamacpp.cpp.
#include "lib/tokenizer/tokenizer.h"
#include "tests/llamacpp_support.h"
#include "tests/tokenizer_files.h"
#include "tests/tokenizer_models.h"

using namespace mp;
using namespace mp::test;

namespace {

// 128 wide, so the right successor's logit (|e|²·4/√h ≈ 45) stands far above the best of ~10⁵ others
// (64 wide left top-1 margins near 1 with these vocabularies).
nlohmann::json wide_config(const std::string& model_type, int64_t vocab_size) {
  nlohmann::json config = tiny_config(model_type);
  config["hidden_size"] = 128;
  config["intermediate_size"] = 256;
  config["vocab_size"] = vocab_size;
  config["max_position_embeddings"] = 256;
  config.erase("bos_token_id");  // tokenizer_config.json names them, as in real checkpoints
  config.erase("eos_token_id");
  return config;
}

std::vector<std::string> texts_for(const std::string& vocab) {
  std::vector<std::string> texts = tokenizer_check_texts();
  for (const auto& [text, ids] : vocab_vectors(vocab)) texts.push_back(text);
  return texts;
}

// llama.cpp against our tokenizer of the model directory, text by text; then greedy generation.
void check_in_llamacpp(const std::string& model, const std::string& vocab, const std::string& type) {
  const std::string gguf = model + "-" + type + ".gguf";
  export_to(model, gguf, type);
  const std::vector<std::string> texts = texts_for(vocab);
  const std::vector<std::vector<int32_t>> ours = encode_all(Tokenizer::open(model), texts, false);
  CHECK(differing_texts(texts, ours, llamacpp_tokenize(gguf, texts)) == 0);
  check_same_greedy_path(gguf, 40, "Once upon a time, in a small town, 3 children");
}

}  // namespace

TEST_CASE("llama.cpp tokenizes and generates like us: Llama-3-shaped model, Llama 3 tokenizer.json", "[.llamacpp]") {
  ScratchDir dir;
  nlohmann::json config = wide_config("llama", 128256);
  config["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                            {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 64}};
  const std::string model = write_decisive_model(dir, "llama3", config, 128000);  // never a special token
  copy_tokenizer_files(model, "llama3", add_llama3_bos_template);
  for (const std::string type : {"F32", "Q8_0"}) {
    INFO(type);
    check_in_llamacpp(model, "llama-bpe", type);
  }
}

TEST_CASE("llama.cpp tokenizes and generates like us: Qwen-shaped model, Qwen 3 tokenizer.json", "[.llamacpp]") {
  ScratchDir dir;
  const std::string model = write_decisive_model(dir, "qwen3", wide_config("qwen2", 151936), 151643);
  copy_tokenizer_files(model, "qwen3");
  for (const std::string type : {"F32", "Q8_0"}) {
    INFO(type);
    check_in_llamacpp(model, "qwen2", type);
  }
}
