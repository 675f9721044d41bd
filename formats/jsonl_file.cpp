#include "formats/jsonl_file.h"

#include <cctype>

#include "formats/json_file.h"
#include "lib/base/error.h"
#include "lib/base/text_file.h"

namespace mp {

void for_each_jsonl_object(const std::string& path,
                           const std::function<void(const nlohmann::json&, const std::string& where)>& on_object) {
  for_each_jsonl_object(path, read_text_file(path), on_object);
}

void for_each_jsonl_object(const std::string& path, const std::string& text,
                           const std::function<void(const nlohmann::json&, const std::string& where)>& on_object) {
  size_t begin = 0;
  for (int64_t line = 1; begin < text.size(); ++line) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    const char* first = text.data() + begin;
    const char* last = text.data() + end;
    begin = end + 1;
    const std::string where = path + ":" + std::to_string(line);
    while (first < last && std::isspace(static_cast<unsigned char>(*first))) ++first;
    if (first == last) continue;
    const nlohmann::json object = parse_json_text(where, first, last);
    if (!object.is_object()) fail_input(where, "is not a JSON object");
    on_object(object, where);
  }
}

std::string jsonl_string(const nlohmann::json& object, const char* key, const std::string& where) {
  const auto it = object.find(key);
  if (it == object.end()) fail_input(where, std::string("no \"") + key + "\"");
  if (!it->is_string()) fail_input(where, std::string("\"") + key + "\" is not a string");
  return it->get<std::string>();
}

}  // namespace mp
