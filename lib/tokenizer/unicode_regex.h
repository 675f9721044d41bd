// Unicode regular expressions for tokenizer.json patterns (Oniguruma syntax in Hugging Face tokenizers;
// \p{L}, (?i:...), lookahead): PCRE2 in UTF + UCP mode, JIT-compiled. Subjects may hold invalid UTF-8.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mp {

class UnicodeRegex {
 public:
  // literal: the pattern is a plain string. A pattern that does not compile is a bad-input error
  // "<origin>: ..." naming the pattern.
  UnicodeRegex(const std::string& pattern, bool literal, const std::string& origin);
  // Non-overlapping matches, left to right, as [begin, end) byte offsets; empty matches are skipped.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view subject) const;
  // subject with every match replaced by content.
  std::string replace_all(const std::string& subject, const std::string& content) const;

 private:
  struct Code;
  std::shared_ptr<const Code> code_;
};

}  // namespace mp
