// tokenizer.json "added_tokens": tokens matched in the text before normalization and pre-tokenization
// (leftmost, then longest, as Hugging Face's Aho-Corasick matcher), with lstrip, rstrip and single_word.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mp {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false, lstrip = false, rstrip = false, single_word = false, normalized = false;
};

// A stretch of text: an added token (id >= 0) or text still to be tokenized (id -1).
struct TextSegment {
  int32_t id;
  size_t begin, end;
};

class AddedTokenMatcher {
 public:
  // Matches each token's content (as given: callers pass normalized content for normalized tokens).
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);
  bool empty() const { return tokens_.empty(); }
  // text cut into added tokens and the stretches between them (empty stretches left out).
  std::vector<TextSegment> split(std::string_view text) const;

 private:
  std::vector<AddedToken> tokens_;  // longest first
  std::array<std::vector<int>, 256> by_first_byte_;  // indices into tokens_
};

}  // namespace mp
