#include "tests/tokenizer_models.h"

#include <filesystem>
#include <fstream>

#include "formats/hf_config.h"
#include "tests/tokenizer_files.h"

namespace mp::test {

std::string write_tokenizer_model(const ScratchDir& dir, const std::string& name, const std::string& model_type,
                                  int64_t vocab_size, const std::function<void(nlohmann::json&)>& edit) {
  const std::string out = dir.path(name);
  std::filesystem::create_directories(out);
  nlohmann::json config = tiny_config(model_type);
  config["vocab_size"] = vocab_size;
  config["tie_word_embeddings"] = true;
  config.erase("bos_token_id");  // tokenizer_config.json names them, as in real checkpoints
  config.erase("eos_token_id");
  write_random_model(out, config, 7);
  copy_tokenizer_files(out, name, edit);
  return out;
}

void copy_tokenizer_files(const std::string& model_dir, const std::string& name,
                          const std::function<void(nlohmann::json&)>& edit) {
  const std::filesystem::path json_path = hf_tokenizer_json(name);
  nlohmann::json doc = read_json_file(json_path.string());
  if (edit) edit(doc);
  std::ofstream(model_dir + "/tokenizer.json") << doc.dump();
  std::filesystem::copy_file(json_path.parent_path() / "tokenizer_config.json", model_dir + "/tokenizer_config.json");
}

void add_llama3_bos_template(nlohmann::json& doc) {
  const nlohmann::json bos = {{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}};
  const nlohmann::json template_processing = {
      {"type", "TemplateProcessing"},
      {"single", {bos, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
      {"pair", {bos, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}, {{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 1}}}},
                {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
      {"special_tokens",
       {{"<|begin_of_text|>", {{"id", "<|begin_of_text|>"}, {"ids", {128000}}, {"tokens", {"<|begin_of_text|>"}}}}}}};
  doc["post_processor"] = {{"type", "Sequence"}, {"processors", {doc["post_processor"], template_processing}}};
}

std::vector<std::string> tokenizer_check_texts() {
  std::vector<std::string> texts = {
      "Hello world! \u00c7a va? Gr\u00fc\u00dfe, \u4f60\u597d, \u3053\u3093\u306b\u3061\u306f, \u041f\u0440\u0438\u0432\u0435\u0442, \u0645\u0631\u062d\u0628\u0627",
      "emoji \U0001F999\U0001F680\U0001F636\u200d\U0001F32B\ufe0f\U0001F44D\U0001F3FD and a flag \U0001F1EB\U0001F1F7",
      "def f(x):\n\tif x >= 10:\n\t\treturn [i**2 for i in range(x)]  # squares\n",
      "1234567890 3.14159 1,000,000 0x1F 2026-11-30",
      "spaces:     five\n\n\n\nnewlines\r\n\t tabs \u00a0nbsp   ",
      // No "</s>": llama.cpp makes Qwen's ordinary token "</s>" a control token (it looks for
      // end-of-generation tokens by their text), so with special tokens parsed it differs from transformers.
      "<|begin_of_text|> <|im_start|>user\nhi<|im_end|> <s> [INST] <unk> <|endoftext|>",
      "I've been 'told he's there, 'RE you sure? We'Ve a'lL",
  };
  std::ifstream in(shared_path("corpora/tinystories/eval.txt"));
  std::string story;
  for (std::string line; std::getline(in, line) && texts.size() < 40;) {
    if (!line.empty()) story += line + "\n";
    else if (!story.empty()) texts.push_back(std::move(story)), story.clear();
  }
  return texts;
}

std::vector<std::vector<int32_t>> encode_all(const Tokenizer& tok, const std::vector<std::string>& texts, bool add_special) {
  std::vector<std::vector<int32_t>> ids;
  for (const std::string& text : texts) ids.push_back(tok.encode(text, add_special));
  return ids;
}

size_t differing_texts(const std::vector<std::string>& texts, const std::vector<std::vector<int32_t>>& expected,
                       const std::vector<std::vector<int32_t>>& got) {
  REQUIRE(expected.size() == texts.size());
  REQUIRE(got.size() == texts.size());
  size_t differing = 0;
  for (size_t i = 0; i < texts.size(); ++i)
    if (expected[i] != got[i]) {
      ++differing;
      UNSCOPED_INFO("tokenized differently: " << texts[i]);
    }
  return differing;
}

}  // namespace mp::test
