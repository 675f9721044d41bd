// Helpers for the [.llamacpp] tests: running a GGUF in a real llama.cpp (node-llama-cpp's prebuilt
// binaries, through tests/llamacpp/*.mjs), our greedy generation, and random models whose greedy
// path is decided by a wide margin.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/test_support.h"

namespace mp::test {

struct LlamaCppGreedy {
  std::vector<int32_t> prompt_ids, ids;
  std::string text;
};

// llama.cpp's greedy continuation of `prompt` (tokenized by llama.cpp, BOS first when the file adds it).
LlamaCppGreedy llamacpp_greedy(const std::string& gguf, const std::string& prompt, int n);

// llama.cpp's token ids for each text (special tokens recognized, no BOS added).
std::vector<std::vector<int32_t>> llamacpp_tokenize(const std::string& gguf, const std::vector<std::string>& texts);

std::vector<int32_t> our_greedy(const std::string& model_path, const std::vector<int32_t>& prompt, int n);

void export_to(const std::string& model, const std::string& out, const std::string& type);

// A random model whose greedy path is decided by a wide margin, so two implementations that round
// differently (llama.cpp multiplies quantized weights with 8-bit-quantized activations) must still
// agree token for token. Each token s in [3, predictable) predicts a successor π(s) in the same
// range: lm_head row π(s) is s's embedding, scaled so the right logit stands far above the rest
// (tokens outside the range, such as unk/BOS/EOS and a tokenizer's special tokens, are never
// predicted). The decoder layers still move the hidden state: write_random_model's weights (std
// 0.2) give an attention output of std about 0.04·h and an MLP output of about 0.004·h·sqrt(f);
// o_proj and down_proj are scaled so each is about 0.3 against the embeddings' 1. No tokenizer is
// written; predictable 0 means the whole vocabulary.
std::string write_decisive_model(const ScratchDir& dir, const std::string& name, const nlohmann::json& config,
                                 int64_t predictable = 0);

// llama.cpp and our generate on the same file, for the full length, with a margin checked to be wide.
void check_same_greedy_path(const std::string& gguf, int n, const std::string& prompt = "Once upon a time");

}  // namespace mp::test
