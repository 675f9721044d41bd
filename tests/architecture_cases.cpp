#include "tests/architecture_cases.h"

#include <filesystem>

namespace mp::test {

std::vector<ArchitectureCase> architecture_cases() {
  auto qwen3 = tiny_config("qwen3");
  qwen3["head_dim"] = 16;
  qwen3["use_sliding_window"] = true;
  qwen3["sliding_window"] = 4;
  qwen3["max_window_layers"] = 1;
  auto gemma2 = tiny_config("gemma2");
  gemma2["head_dim"] = 16;
  gemma2["query_pre_attn_scalar"] = 16;
  gemma2["sliding_window"] = 4;
  gemma2["tie_word_embeddings"] = true;
  auto gemma3 = tiny_config("gemma3_text");
  gemma3["num_hidden_layers"] = 6;  // layers 0-4 slide, layer 5 is global (HF's and llama.cpp's pattern)
  gemma3["head_dim"] = 16;
  gemma3["query_pre_attn_scalar"] = 16;
  gemma3["sliding_window"] = 4;
  gemma3["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 2.0}};
  gemma3["tie_word_embeddings"] = true;
  auto phi3 = tiny_config("phi3");  // fused linears, 3/4 of each head rotating, longrope past 16 tokens
  phi3["head_dim"] = 16;
  phi3["partial_rotary_factor"] = 0.75;
  phi3["sliding_window"] = 4;
  phi3["original_max_position_embeddings"] = 16;
  phi3["rope_scaling"] = {{"type", "longrope"},
                          {"short_factor", {1.0, 1.5, 2.0, 3.0, 5.0, 8.0}},
                          {"long_factor", {1.0, 2.0, 4.0, 8.0, 16.0, 32.0}}};
  return {{"qwen3", qwen3}, {"gemma2", gemma2}, {"gemma3", gemma3}, {"phi3", phi3}};
}

std::string write_architecture_model(const ScratchDir& dir, const ArchitectureCase& c) {
  const std::string path = dir.path(c.name);
  write_random_model(path, c.config, 11);
  std::filesystem::copy_file(shared_path("models/stories260K/tokenizer.model"), path + "/tokenizer.model");
  return path;
}

}  // namespace mp::test
