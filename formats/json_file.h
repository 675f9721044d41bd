// Every JSON file modelpress reads (configs, safetensors headers and indexes, tokenizer and progress
// files) is parsed here, with a nesting bound: nlohmann's DOM is copied and destroyed recursively, so
// an input nested tens of thousands of levels deep would overflow the stack. Errors name the file.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace mp {

// Deeper than any real config (a few levels) and shallow enough for any stack.
inline constexpr int kMaxJsonDepth = 128;

nlohmann::json read_json_file(const std::string& path);
// Keys in file order (for files rewritten as read, such as an interrupted run's index).
nlohmann::ordered_json read_ordered_json_file(const std::string& path);
// `text` came from `where` (a file, or a file and the part of it, such as a safetensors header).
nlohmann::json parse_json_text(const std::string& where, const char* begin, const char* end);

}  // namespace mp
