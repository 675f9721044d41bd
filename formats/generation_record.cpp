#include "formats/generation_record.h"

#include "formats/jsonl_file.h"
#include "lib/base/error.h"

namespace mp {

namespace {
int64_t count(const nlohmann::json& object, const char* key, const std::string& where) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer() || it->get<int64_t>() < 0)
    fail_input(where, std::string("\"") + key + "\" is not a count");
  return it->get<int64_t>();
}
}  // namespace

std::string generation_record_line(const GenerationRecord& r) {
  const nlohmann::ordered_json line = {{"prompt", r.prompt},
                                       {"completion", r.completion},
                                       {"prompt_tokens", r.prompt_tokens},
                                       {"completion_tokens", r.completion_tokens},
                                       {"finish", r.ended ? "eos" : "length"}};
  // Invalid UTF-8 (a completion cut inside a character) is replaced, never a failure.
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

GenerationRecord parse_generation_record(const nlohmann::json& object, const std::string& where) {
  GenerationRecord r;
  r.prompt = jsonl_string(object, "prompt", where);
  r.completion = jsonl_string(object, "completion", where);
  r.prompt_tokens = count(object, "prompt_tokens", where);
  r.completion_tokens = count(object, "completion_tokens", where);
  const std::string finish = jsonl_string(object, "finish", where);
  if (finish != "eos" && finish != "length") fail_input(where, "\"finish\" is neither \"eos\" nor \"length\"");
  r.ended = finish == "eos";
  return r;
}

}  // namespace mp
