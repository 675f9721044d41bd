// What gguf-py's SpecialVocab reads from a Hugging Face model directory for the GGUF tokenizer keys:
// special token ids (tokenizer_config.json's tokens found among tokenizer.json's added tokens, then
// config.json's *_token_id), whether BOS/EOS are added (tokenizer_config.json's add_*_token, else
// tokenizer.json's TemplateProcessing), and the chat template, in the order the converter writes them.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "formats/gguf_value.h"

namespace mp {

struct HfSpecialVocab {
  std::vector<std::pair<std::string, int64_t>> token_ids;  // ("bos", 128000): the first source to name one wins
  std::vector<std::pair<std::string, bool>> add_tokens;    // ("bos", true)
  // tokenizer_config.json's chat_template (or chat_template.jinja / chat_template.json): a string, or
  // named templates ("default" becomes tokenizer.chat_template, others tokenizer.chat_template.NAME).
  std::optional<std::string> chat_template;
  std::vector<std::pair<std::string, std::string>> named_chat_templates;
};

// n_vocab: ids at or above it are skipped, as the converter skips them. A special token naming text the
// vocabulary does not hold (`in_vocab` false), a negative id or a chat template that is neither a
// string nor a list of {name, template} is a bad-input error naming the file.
HfSpecialVocab read_hf_special_vocab(const std::string& dir, int64_t n_vocab,
                                     const std::function<bool(const std::string&)>& in_vocab);

// The GGUF keys for it, as SpecialVocab.add_to_gguf writes them (after the merges).
std::vector<std::pair<std::string, GgufValue>> special_vocab_gguf_keys(const HfSpecialVocab& vocab);

}  // namespace mp
