// generation_config.json, which Hugging Face releases beside config.json: the end tokens generation
// stops at (an id or a list: a chat model's turn ends are there, not in config.json) and the
// sampling settings llama.cpp's converter carries into GGUF as general.sampling.*.
#pragma once
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace mp {

struct GenerationConfig {
  std::vector<int64_t> eos_token_ids;
  std::optional<int64_t> top_k;
  std::optional<double> top_p, min_p, temperature, repetition_penalty;
};

// The directory's generation_config.json; empty when there is none.
GenerationConfig read_generation_config(const std::string& dir);

// `eos_token_id` of a config.json or generation_config.json: absent, an id, or a non-empty list of
// ids; anything else is bad input naming `where`.
std::vector<int64_t> eos_token_ids(const nlohmann::json& j, const std::string& where);

}  // namespace mp
