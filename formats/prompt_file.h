// Prompt files for `generate --prompts`. A ".jsonl" file holds one {"prompt": "..."} object per
// line (other members are ignored; chat "messages" are refused: modelpress applies no chat
// templates). Any other file is plain text, one prompt per line ("\r" dropped); blank lines are
// skipped in both, so a prompt with a newline needs JSON Lines.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mp {

struct Prompt {
  std::string text;
  std::string where;  // "<file>:<line>", for errors about this prompt
};

// Bad input, one line naming the file and line, for a malformed line, a missing or empty prompt,
// or a file without prompts.
std::vector<Prompt> read_prompts(const std::string& path);

}  // namespace mp
