#include "formats/prompt_file.h"

#include <filesystem>

#include "formats/jsonl_file.h"
#include "lib/base/error.h"
#include "lib/base/text_file.h"

namespace mp {

namespace {

std::vector<Prompt> read_jsonl_prompts(const std::string& path) {
  std::vector<Prompt> prompts;
  for_each_jsonl_object(path, [&](const nlohmann::json& object, const std::string& where) {
    if (!object.contains("prompt") && object.contains("messages"))
      fail_input(where, "\"messages\" needs a chat template, which modelpress does not apply; give \"prompt\"");
    prompts.push_back({jsonl_string(object, "prompt", where), where});
    if (prompts.back().text.empty()) fail_input(where, "\"prompt\" is empty");
  });
  return prompts;
}

std::vector<Prompt> read_text_prompts(const std::string& path) {
  const std::string text = read_text_file(path);
  std::vector<Prompt> prompts;
  size_t begin = 0;
  for (int64_t line = 1; begin < text.size(); ++line) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    std::string prompt = text.substr(begin, end - begin);
    begin = end + 1;
    if (!prompt.empty() && prompt.back() == '\r') prompt.pop_back();
    if (prompt.find_first_not_of(" \t\f\v") != std::string::npos)
      prompts.push_back({prompt, path + ":" + std::to_string(line)});
  }
  return prompts;
}

}  // namespace

std::vector<Prompt> read_prompts(const std::string& path) {
  std::vector<Prompt> prompts =
      std::filesystem::path(path).extension() == ".jsonl" ? read_jsonl_prompts(path) : read_text_prompts(path);
  if (prompts.empty()) fail_input(path, "no prompts (the file is empty or blank)");
  return prompts;
}

}  // namespace mp
