#include "formats/hf_special_vocab.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "formats/hf_config.h"
#include "lib/base/error.h"

namespace fs = std::filesystem;

namespace mp {

namespace {

using json = nlohmann::json;

json read_if_present(const fs::path& path) { return fs::exists(path) ? read_json_file(path.string()) : json(); }

// A special token entry of tokenizer_config.json: a string, or an AddedToken object's content.
std::string token_text(const json& entry) {
  if (entry.is_string()) return entry.get<std::string>();
  if (entry.is_object() && entry.contains("content") && entry["content"].is_string())
    return entry["content"].get<std::string>();
  return "";
}

// The id of a TemplateProcessing item when it is a special token, else "".
std::string special_item(const json& item) {
  if (!item.is_object() || !item.contains("SpecialToken")) return "";
  return token_text(item["SpecialToken"].value("id", json()));
}

class Reader {
 public:
  Reader(const std::string& dir, int64_t n_vocab, const std::function<bool(const std::string&)>& in_vocab)
      : dir_(dir), n_vocab_(n_vocab), in_vocab_(in_vocab) {}

  HfSpecialVocab read() {
    const json tokenizer = read_if_present(dir_ / "tokenizer.json");
    config_path_ = (dir_ / "tokenizer_config.json").string();
    config_ = read_if_present(config_path_);
    if (!tokenizer.is_null() && tokenizer.contains("post_processor") && tokenizer["post_processor"].is_object())
      read_template(tokenizer["post_processor"]);
    if (config_.is_object()) read_config(tokenizer.is_object() ? tokenizer.value("added_tokens", json::array()) : json::array());
    read_model_config();
    return std::move(vocab_);
  }

 private:
  void set_add(const std::string& type, bool value) {
    for (auto& [t, v] : vocab_.add_tokens)
      if (t == type) return void(v = value);
    vocab_.add_tokens.emplace_back(type, value);
  }

  void set_id(const std::string& type, const json& id, const std::string& where) {
    if (!id.is_number_integer()) return;
    if (id.get<int64_t>() < 0) fail_input(where, type + " token id " + id.dump() + " is negative");
    if (id.get<int64_t>() >= n_vocab_) return;
    for (const auto& [t, v] : vocab_.token_ids)
      if (t == type) return;
    vocab_.token_ids.emplace_back(type, id.get<int64_t>());
  }

  // The converter's crude reading of a TemplateProcessing: a leading special token that is the BOS
  // (or CLS) means BOS is added; a trailing one becomes the EOS (the old EOS turning into the EOT).
  void read_template(const json& post) {
    const json processors = post.contains("processors") ? post["processors"] : json::array({post});
    for (const json& p : processors) {
      if (!p.is_object() || p.value("type", "") != "TemplateProcessing") continue;
      const json single = p.value("single", json::array());
      if (!single.is_array() || single.size() < 2) continue;
      if (const std::string first = special_item(single.front()); !first.empty()) {
        std::string bos = token_text(config_.value("bos_token", json())), cls = token_text(config_.value("cls_token", json()));
        if (config_.is_object() && first != bos && first != cls) {
          if (bos.empty()) config_["bos_token"] = bos = first;
          if (cls.empty()) config_["cls_token"] = cls = first;
        }
        set_add("bos", first == bos || first == cls || !config_.is_object());
      }
      if (const std::string last = special_item(single.back()); !last.empty()) {
        const std::string eos = token_text(config_.value("eos_token", json()));
        if (config_.is_object() && last != eos) {
          types_.push_back("eot");
          config_["eot_token"] = eos;
          config_["eos_token"] = last;
        }
        set_add("eos", true);
      }
    }
  }

  void read_chat_template() {
    json templ = config_.value("chat_template", json());
    if (templ.is_null()) {
      if (fs::exists(dir_ / "chat_template.jinja")) {
        std::ifstream in(dir_ / "chat_template.jinja", std::ios::binary);
        std::stringstream text;
        text << in.rdbuf();
        templ = text.str();
      } else if (fs::exists(dir_ / "chat_template.json")) {
        templ = read_json_file((dir_ / "chat_template.json").string()).value("chat_template", json());
      }
    }
    if (templ.is_null()) return;
    if (templ.is_string()) return void(vocab_.chat_template = templ.get<std::string>());
    const std::string bad = "chat_template must be a string or a list of {\"name\", \"template\"} objects";
    if (!templ.is_array()) fail_input(config_path_, bad);
    for (const json& choice : templ) {
      if (!choice.is_object() || !choice.value("template", json()).is_string()) fail_input(config_path_, bad);
      std::string name = choice.value("name", json()).is_string() ? choice["name"].get<std::string>() : "";
      // gguf-py keeps letters and digits of a template's name and turns everything else into '_'.
      for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      if (name.empty()) continue;
      if (name == "default")
        vocab_.chat_template = choice["template"].get<std::string>();
      else
        vocab_.named_chat_templates.emplace_back(name, choice["template"].get<std::string>());
    }
  }

  void read_config(const json& added_tokens) {
    read_chat_template();
    for (const std::string& type : types_) {
      const json add = config_.value("add_" + type + "_token", json());
      if (add.is_boolean()) set_add(type, add.get<bool>());
      else if (!add.is_null()) fail_input(config_path_, "add_" + type + "_token must be true or false");
      const json entry = config_.value(type + "_token", json());
      const std::string text = token_text(entry);
      if (text.empty()) {
        if (!entry.is_null() && !entry.is_string() && !entry.is_object())
          fail_input(config_path_, type + "_token must be a string or an AddedToken object");
        continue;
      }
      const auto it = std::find_if(added_tokens.begin(), added_tokens.end(),
                                   [&](const json& t) { return t.is_object() && t.value("content", json()) == text; });
      if (it != added_tokens.end())
        set_id(type, it->value("id", json()), config_path_);
      else if (!in_vocab_(text))
        fail_input(config_path_, type + "_token \"" + text + "\" is not a token of the vocabulary");
    }
  }

  void read_model_config() {
    const std::string path = (dir_ / "config.json").string();
    const json config = read_if_present(path);
    if (!config.is_object()) return;
    for (const std::string& type : types_) {
      json id = config.value(type + "_token_id", json());
      if (id.is_null() && config.contains("text_config") && config["text_config"].is_object())
        id = config["text_config"].value(type + "_token_id", json());
      set_id(type, id, path);
    }
  }

  fs::path dir_;
  int64_t n_vocab_;
  const std::function<bool(const std::string&)>& in_vocab_;
  std::string config_path_;
  json config_;
  std::vector<std::string> types_ = {"bos", "eos", "unk", "sep", "pad", "cls", "mask"};
  HfSpecialVocab vocab_;
};

}  // namespace

HfSpecialVocab read_hf_special_vocab(const std::string& dir, int64_t n_vocab,
                                     const std::function<bool(const std::string&)>& in_vocab) {
  return Reader(dir, n_vocab, in_vocab).read();
}

std::vector<std::pair<std::string, GgufValue>> special_vocab_gguf_keys(const HfSpecialVocab& vocab) {
  // gguf-py has writers for these; SpecialVocab skips the others (cls) with a warning.
  static const std::vector<std::pair<std::string, std::string>> id_keys = {
      {"bos", "bos_token_id"}, {"eos", "eos_token_id"},       {"unk", "unknown_token_id"}, {"sep", "seperator_token_id"},
      {"pad", "padding_token_id"}, {"mask", "mask_token_id"}, {"eot", "eot_token_id"},     {"eom", "eom_token_id"}};
  std::vector<std::pair<std::string, GgufValue>> keys;
  for (const auto& [type, id] : vocab.token_ids)
    for (const auto& [t, key] : id_keys)
      if (t == type) keys.emplace_back("tokenizer.ggml." + key, GgufValue::uint32(static_cast<uint32_t>(id)));
  for (const auto& [type, add] : vocab.add_tokens)
    if (type == "bos" || type == "eos" || type == "sep")
      keys.emplace_back("tokenizer.ggml.add_" + type + "_token", GgufValue::boolean(add));
  std::vector<GgufValue> names;
  for (const auto& [name, text] : vocab.named_chat_templates) {
    keys.emplace_back("tokenizer.chat_template." + name, GgufValue::string(text));
    names.push_back(GgufValue::string(name));
  }
  if (!names.empty()) keys.emplace_back("tokenizer.chat_templates", GgufValue::array(GgufType::STRING, std::move(names)));
  if (vocab.chat_template) keys.emplace_back("tokenizer.chat_template", GgufValue::string(*vocab.chat_template));
  return keys;
}

}  // namespace mp
