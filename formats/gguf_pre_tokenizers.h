// llama.cpp's byte-level BPE pre-tokenizers ("tokenizer.ggml.pre"): how its converter recognizes
// one from a tokenizer (the hash of the ids of a fixed check text) and how llama.cpp splits text
// for each (its regexes, applied one after the other, each splitting every piece the previous ones
// left). The table is data taken from llama.cpp (see the .cpp).
#pragma once
#include <string>
#include <vector>

namespace mp {

struct GgufPreTokenizer {
  std::vector<std::string> names;    // tokenizer.ggml.pre values llama.cpp maps to this splitter
  std::vector<std::string> regexes;  // Hugging Face (Oniguruma-style) syntax
  bool ignore_merges = false;        // a word that is a whole token is not merged further
  bool adds_bos = false;             // llama.cpp's default when tokenizer.ggml.add_bos_token is absent
};

// The text convert_hf_to_gguf.py encodes (with special tokens) to recognize a pre-tokenizer.
const std::string& pre_tokenizer_check_text();

// sha256 (hex) of the ids printed as a Python list ("[1, 2, 3]"), as the converter hashes them.
std::string pre_tokenizer_check_hash(const std::vector<int32_t>& ids);

// The converter's name for a check hash; empty when the hash is not in the table.
std::string pre_tokenizer_for_hash(const std::string& hash);

// The splitter for a tokenizer.ggml.pre name; nullptr when this table does not have it.
const GgufPreTokenizer* find_pre_tokenizer(const std::string& name);

// Every name find_pre_tokenizer knows, comma-separated, for messages.
std::string known_pre_tokenizer_names();

}  // namespace mp
