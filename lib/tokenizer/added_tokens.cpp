#include "lib/tokenizer/added_tokens.h"

#include <algorithm>

#include "lib/tokenizer/unicode_text.h"

namespace mp {

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) {
  for (AddedToken& t : tokens)
    if (!t.content.empty()) tokens_.push_back(std::move(t));
  std::stable_sort(tokens_.begin(), tokens_.end(),
                   [](const AddedToken& a, const AddedToken& b) { return a.content.size() > b.content.size(); });
  for (size_t i = 0; i < tokens_.size(); ++i)
    by_first_byte_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(static_cast<int>(i));
}

std::vector<TextSegment> AddedTokenMatcher::split(std::string_view text) const {
  std::vector<TextSegment> out;
  size_t text_start = 0;  // where the current stretch of plain text begins
  for (size_t at = 0; at < text.size();) {
    const AddedToken* found = nullptr;
    for (int i : by_first_byte_[static_cast<unsigned char>(text[at])]) {
      const AddedToken& t = tokens_[i];
      if (text.compare(at, t.content.size(), t.content) == 0) {
        found = &t;
        break;
      }
    }
    if (!found) {
      ++at;
      continue;
    }
    size_t begin = at, end = at + found->content.size();
    if (found->single_word && (is_word_character(code_point_before(text, begin)) || is_word_character(code_point_at(text, end)))) {
      at = end;  // the matcher resumes after a rejected match, as Aho-Corasick iteration does
      continue;
    }
    // lstrip/rstrip: the whitespace beside the token belongs to it (and is dropped from the text).
    if (found->lstrip) begin = std::max(text_start, trimmed_range(text.substr(0, begin), false, true).second);
    if (found->rstrip) end += trimmed_range(text.substr(end), true, false).first;
    if (begin > text_start) out.push_back({-1, text_start, begin});
    out.push_back({found->id, begin, end});
    text_start = at = end;
  }
  if (text_start < text.size()) out.push_back({-1, text_start, text.size()});
  return out;
}

}  // namespace mp
