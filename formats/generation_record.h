// Teacher data: what `generate --prompts` writes, one JSON object per prompt and line, in prompt
// order: {"prompt", "completion", "prompt_tokens", "completion_tokens", "finish": "eos"|"length"}.
// `tokenize` and `distill-train --data` read it back as one document per line, the prompt followed
// by its completion (docs/teacher-data.md).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace mp {

struct GenerationRecord {
  std::string prompt, completion;
  int64_t prompt_tokens = 0, completion_tokens = 0;
  bool ended = false;  // "finish": "eos"; else "length" (n-predict or the model's context)
};

// The record as one line of JSON, newline included.
std::string generation_record_line(const GenerationRecord& record);
// Bad input at `where` for a missing or mistyped member.
GenerationRecord parse_generation_record(const nlohmann::json& object, const std::string& where);

}  // namespace mp
