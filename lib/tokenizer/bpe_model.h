// tokenizer.json "model" of type BPE: vocab and merges, applied to one pre-token at a time by merge rank
// (a priority queue over linked symbols, as Hugging Face tokenizers does), with byte_fallback, unk_token,
// fuse_unk, continuing_subword_prefix, end_of_word_suffix and ignore_merges. Words already encoded are
// remembered (word_cache.h).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "lib/tokenizer/word_cache.h"

namespace mp {

class BpeModel {
 public:
  // spec: the "model" object. Bad merges, duplicate ids, dropout or other model types are bad-input
  // errors naming origin.
  BpeModel(const nlohmann::json& spec, const std::string& origin);

  // Appends the ids of one pre-token.
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

  // id -> token for the model's vocab (ids the vocab does not use are empty strings).
  const std::vector<std::string>& vocab() const { return pieces_; }
  int32_t id_of(std::string_view token) const;  // -1 if absent
  int32_t unk_id() const { return unk_id_; }
  bool byte_fallback() const { return byte_fallback_; }
  // "a b" in rank order.
  std::vector<std::string> merges() const;

 private:
  struct Merge {
    int32_t rank, result;
  };
  static uint64_t pair_key(int32_t a, int32_t b) { return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b); }
  void add_merges(const nlohmann::json& merges, const std::string& origin);
  void merge_word(std::string_view word, std::vector<int32_t>& out) const;
  // The word's characters as vocab ids (after prefix/suffix, byte fallback and unk).
  std::vector<int32_t> initial_symbols(std::string_view word) const;
  // Where a long word can be cut without changing its encoding (see find_word_cuts).
  void encode_cut_word(std::string_view word, std::vector<int32_t>& out) const;
  // Through the word cache when the word is short enough.
  void encode_uncut_word(std::string_view word, std::vector<int32_t>& out) const;
  void find_word_cuts();

  std::unordered_map<std::string, int32_t> ids_;
  std::vector<std::string> pieces_;
  std::unordered_map<uint64_t, Merge> merges_;
  std::vector<std::pair<int32_t, int32_t>> merge_list_;  // by rank
  std::string continuing_subword_prefix_, end_of_word_suffix_;
  int32_t unk_id_ = -1;
  bool fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
  // SentencePiece-style vocabularies encode a whole text as one word (no pre-tokenizer). No token
  // spans a "▁" that follows a character other than these (nor "▁"), so the word can be cut there.
  bool cuttable_ = false;
  std::vector<std::string> joined_before_space_;
  WordCache word_cache_;
};

}  // namespace mp
