#include "lib/tokenizer/unicode_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "lib/base/error.h"

namespace mp {

struct UnicodeRegex::Code {
  pcre2_code* code = nullptr;
  ~Code() { pcre2_code_free(code); }
};

namespace {

// One match-data block per thread, shared by every pattern: only the whole match's offsets are read.
pcre2_match_data* thread_match_data() {
  struct Holder {
    pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
    ~Holder() { pcre2_match_data_free(data); }
  };
  thread_local Holder holder;
  return holder.data;
}

}  // namespace

UnicodeRegex::UnicodeRegex(const std::string& pattern, bool literal, const std::string& origin) {
  auto code = std::make_shared<Code>();
  int error = 0;
  PCRE2_SIZE offset = 0;
  // PCRE2_LITERAL refuses PCRE2_UCP (which only matters to character classes anyway).
  const uint32_t options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
  code->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &error,
                             &offset, nullptr);
  if (!code->code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    fail_input(origin, "regex \"" + pattern + "\" does not compile at offset " + std::to_string(offset) + ": " +
                           reinterpret_cast<const char*>(message));
  }
  // Without JIT (a PCRE2 built without it) the interpreter gives the same matches, only slower.
  pcre2_jit_compile(code->code, PCRE2_JIT_COMPLETE);
  code_ = std::move(code);
}

std::vector<std::pair<size_t, size_t>> UnicodeRegex::find_all(std::string_view subject) const {
  std::vector<std::pair<size_t, size_t>> matches;
  pcre2_match_data* data = thread_match_data();
  const auto* text = reinterpret_cast<PCRE2_SPTR>(subject.data());
  size_t start = 0;
  while (start <= subject.size()) {
    const int rc = pcre2_match(code_->code, text, subject.size(), start, 0, data, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) fail_runtime("regex match failed (PCRE2 error " + std::to_string(rc) + ")");
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data);
    if (ov[1] > ov[0]) {
      matches.emplace_back(ov[0], ov[1]);
      start = ov[1];
    } else {  // an empty match: step over one character
      start = ov[0] + 1;
      while (start < subject.size() && (static_cast<unsigned char>(subject[start]) & 0xC0) == 0x80) ++start;
    }
  }
  return matches;
}

std::string UnicodeRegex::replace_all(const std::string& subject, const std::string& content) const {
  std::string out;
  size_t at = 0;
  for (const auto& [begin, end] : find_all(subject)) {
    out.append(subject, at, begin - at);
    out += content;
    at = end;
  }
  return out.append(subject, at, std::string::npos);
}

}  // namespace mp
