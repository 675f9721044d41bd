// JSON Lines files (one JSON object per line, blank lines skipped), as prompt files and teacher
// data are written. Every problem is one line naming "<file>:<line>".
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace mp {

// Calls on_object(object, "<path>:<line>") for each line of the file, in order.
void for_each_jsonl_object(const std::string& path,
                           const std::function<void(const nlohmann::json&, const std::string& where)>& on_object);
// The same for text already read; `path` names it in errors.
void for_each_jsonl_object(const std::string& path, const std::string& text,
                           const std::function<void(const nlohmann::json&, const std::string& where)>& on_object);

// A string member of a JSON Lines object: bad input at `where` when it is missing or not a string.
std::string jsonl_string(const nlohmann::json& object, const char* key, const std::string& where);

}  // namespace mp
