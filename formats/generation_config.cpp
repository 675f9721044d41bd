#include "formats/generation_config.h"

#include <filesystem>

#include "formats/config_keys.h"
#include "formats/json_file.h"
#include "lib/base/error.h"

namespace mp {

std::vector<int64_t> eos_token_ids(const nlohmann::json& j, const std::string& where) {
  const ConfigKeys keys(j, where);
  if (!keys.has("eos_token_id")) return {};
  const nlohmann::json& value = j["eos_token_id"];
  if (!value.is_array()) return {keys.required<int64_t>("eos_token_id")};
  if (value.empty()) fail_input(where, "\"eos_token_id\" is an empty list");
  std::vector<int64_t> ids;
  for (const nlohmann::json& id : value) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0)
      fail_input(where, "\"eos_token_id\" lists " + id.dump() + ", not a token id");
    ids.push_back(id.get<int64_t>());
  }
  return ids;
}

GenerationConfig read_generation_config(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "generation_config.json").string();
  GenerationConfig g;
  if (!std::filesystem::exists(path)) return g;
  const nlohmann::json j = read_json_file(path);
  if (!j.is_object()) fail_input(path, "must be a JSON object");
  const ConfigKeys keys(j, path);
  g.eos_token_ids = eos_token_ids(j, path);
  if (keys.has("top_k")) g.top_k = keys.required<int64_t>("top_k");
  if (keys.has("top_p")) g.top_p = keys.required<double>("top_p");
  if (keys.has("min_p")) g.min_p = keys.required<double>("min_p");
  if (keys.has("temperature")) g.temperature = keys.required<double>("temperature");
  if (keys.has("repetition_penalty")) g.repetition_penalty = keys.required<double>("repetition_penalty");
  return g;
}

}  // namespace mp
