#include "formats/json_file.h"

#include <fstream>
#include <iterator>

#include "lib/base/error.h"

namespace mp {

namespace {

template <typename Json>
Json parse_bounded(const std::string& where, const char* begin, const char* end) {
  // The callback sees each container open at its depth, before anything below it is built.
  auto bound_depth = [&](int depth, nlohmann::json::parse_event_t event, Json&) {
    if ((event == nlohmann::json::parse_event_t::object_start ||
         event == nlohmann::json::parse_event_t::array_start) && depth >= kMaxJsonDepth)
      fail_input(where, "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    return true;
  };
  try {
    return Json::parse(begin, end, bound_depth);
  } catch (const nlohmann::json::exception& e) {
    fail_input(where, std::string("not valid JSON: ") + e.what());
  }
}

std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_input(path, "cannot open");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail_input(path, "cannot read");
  return text;
}

}  // namespace

nlohmann::json parse_json_text(const std::string& where, const char* begin, const char* end) {
  return parse_bounded<nlohmann::json>(where, begin, end);
}

nlohmann::json read_json_file(const std::string& path) {
  const std::string text = file_text(path);
  return parse_json_text(path, text.data(), text.data() + text.size());
}

nlohmann::ordered_json read_ordered_json_file(const std::string& path) {
  const std::string text = file_text(path);
  return parse_bounded<nlohmann::ordered_json>(path, text.data(), text.data() + text.size());
}

}  // namespace mp
