// Small random models carrying real tokenizer.json files (.cache/tokenizers), for GGUF vocabulary tests.
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/tokenizer/tokenizer.h"
#include "tests/test_support.h"

namespace mp::test {

// Copies a fetched tokenizer.json (`name` as for hf_tokenizer_json) and its tokenizer_config.json into
// model_dir; `edit` may change the tokenizer.json document before it is written.
void copy_tokenizer_files(const std::string& model_dir, const std::string& name,
                          const std::function<void(nlohmann::json&)>& edit = {});

// `name` as for hf_tokenizer_json; `edit` may change the tokenizer.json document before it is written.
// The model is test::tiny_config(model_type) with tied embeddings and `vocab_size` rows. Returns the
// model directory (dir/name).
std::string write_tokenizer_model(const ScratchDir& dir, const std::string& name, const std::string& model_type,
                                  int64_t vocab_size, const std::function<void(nlohmann::json&)>& edit = {});

// Llama 3's tokenizer.json as Meta ships it: its post-processor adds <|begin_of_text|> (the npm copy's
// post-processor is ByteLevel alone, which makes it Smaug's "smaug-bpe" to llama.cpp's converter).
void add_llama3_bos_template(nlohmann::json& tokenizer_json);

// Texts to compare tokenizers on: the hard cases (unicode, emoji, code, digits, whitespace runs,
// special-token-looking text) and the first stories of ../shared's TinyStories eval.txt.
std::vector<std::string> tokenizer_check_texts();

std::vector<std::vector<int32_t>> encode_all(const Tokenizer& tok, const std::vector<std::string>& texts, bool add_special);
// How many texts two tokenizations of them disagree on; each such text is named in the test's output.
size_t differing_texts(const std::vector<std::string>& texts, const std::vector<std::vector<int32_t>>& expected,
                       const std::vector<std::vector<int32_t>>& got);

}  // namespace mp::test
