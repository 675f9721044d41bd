#include "lib/tokenizer/special_tokens.h"

#include <nlohmann/json.hpp>

#include "lib/base/error.h"
#include "lib/base/json_integer.h"
#include "lib/tokenizer/hf_json_fields.h"

namespace mp {

namespace {

struct Template {
  bool found = false;  // a TemplateProcessing was there
  std::vector<int32_t> prefix, suffix;
};

// TemplateProcessing's single-sequence template: the special tokens before and after $A.
void read_template(const nlohmann::json& spec, Template& out, const std::string& origin) {
  const nlohmann::json single = hf_required<nlohmann::json>(spec, "single", origin);
  const nlohmann::json specials = hf_field<nlohmann::json>(spec, "special_tokens", nlohmann::json::object(), origin);
  if (!single.is_array()) fail_input(origin, "TemplateProcessing single is not a list");
  bool after_sequence = false;
  for (const auto& piece : single) {
    if (piece.is_object() && piece.contains("Sequence")) {
      if (after_sequence) fail_input(origin, "TemplateProcessing single template has two sequences");
      after_sequence = true;
      continue;
    }
    if (!piece.is_object() || !piece.contains("SpecialToken"))
      fail_input(origin, "TemplateProcessing piece is neither Sequence nor SpecialToken: " + piece.dump().substr(0, 80));
    const std::string name = hf_required<std::string>(piece["SpecialToken"], "id", origin);
    if (!specials.contains(name)) fail_input(origin, "TemplateProcessing names special token " + name + " but does not define it");
    for (const auto& id : hf_required<nlohmann::json>(specials[name], "ids", origin)) {
      if (!json_integer_fits<int32_t>(id))
        fail_input(origin, "TemplateProcessing ids of " + name + " must be " + json_integer_range<int32_t>());
      (after_sequence ? out.suffix : out.prefix).push_back(id.get<int32_t>());
    }
  }
  out.found = true;
}

void read_post_processor(const nlohmann::json& spec, Template& out, const std::string& origin) {
  if (spec.is_null()) return;
  const std::string type = hf_type(spec, origin);
  if (type == "TemplateProcessing") return read_template(spec, out, origin);
  if (type == "ByteLevel") return;  // it only adjusts offsets
  if (type == "Sequence") {
    for (const auto& step : spec.value("processors", nlohmann::json::array())) read_post_processor(step, out, origin);
    return;
  }
  fail_input(origin, "post-processor type " + type + " is not supported");
}

// tokenizer_config.json gives a token as a string or as {"content": ...}.
std::string config_token(const nlohmann::json& config, const char* key) {
  if (!config.is_object() || !config.contains(key)) return "";
  const nlohmann::json& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return "";
}

}  // namespace

SpecialTokens hf_special_tokens(const nlohmann::json& post_processor, const nlohmann::json& config, int32_t model_unk,
                                const std::function<int32_t(const std::string&)>& id_of, const std::string& origin) {
  const std::string config_origin = origin + " (tokenizer_config.json)";
  auto lookup = [&](const char* key) {
    const std::string token = config_token(config, key);
    if (token.empty()) return -1;
    const int32_t id = id_of(token);
    if (id < 0) fail_input(config_origin, std::string(key) + " \"" + token + "\" is not in the vocabulary");
    return id;
  };
  SpecialTokens s;
  s.bos = lookup("bos_token");
  s.eos = lookup("eos_token");
  s.pad = lookup("pad_token");
  s.unk = lookup("unk_token");
  if (s.unk < 0) s.unk = model_unk;
  Template t;
  read_post_processor(post_processor, t, origin);
  if (t.found) {
    s.prefix = t.prefix;
    s.suffix = t.suffix;
    if (s.bos < 0 && s.prefix.size() == 1) s.bos = s.prefix[0];
    if (s.eos < 0 && s.suffix.size() == 1) s.eos = s.suffix[0];
  } else {
    // What transformers' Llama/Gemma fast tokenizers build from these flags when the file adds nothing.
    if (hf_field<bool>(config, "add_bos_token", false, config_origin) && s.bos >= 0) s.prefix = {s.bos};
    if (hf_field<bool>(config, "add_eos_token", false, config_origin) && s.eos >= 0) s.suffix = {s.eos};
  }
  return s;
}

}  // namespace mp
