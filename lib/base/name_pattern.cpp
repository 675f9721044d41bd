#include "lib/base/name_pattern.h"

#include <cctype>

#include "lib/base/error.h"

namespace mp {

namespace {

// Longer than any real pattern over names, short enough that an error line can quote it.
constexpr size_t kMaxPatternLength = 1024;
// libstdc++ 12 reads a repeat count or back-reference number into a long without an overflow check
// (undefined behaviour, found by fuzz_quantized_checkpoint at "{999...9}"); a count past its state
// limit of 100,000 fails anyway, so nine digits lose nothing.
constexpr size_t kMaxDigitRun = 9;

bool has_long_digit_run(const std::string& pattern) {
  size_t run = 0;
  for (char c : pattern) {
    run = std::isdigit(static_cast<unsigned char>(c)) ? run + 1 : 0;
    if (run > kMaxDigitRun) return true;
  }
  return false;
}

}  // namespace

std::regex compile_name_pattern(const std::string& pattern, const std::string& where) {
  const std::string quoted = "\"" + pattern.substr(0, 80) + (pattern.size() > 80 ? "...\"" : "\"");
  if (pattern.size() > kMaxPatternLength)
    fail_input(where, "the pattern " + quoted + " is longer than " + std::to_string(kMaxPatternLength) + " characters");
  if (has_long_digit_run(pattern))
    fail_input(where, "the pattern " + quoted + " holds a number of more than " + std::to_string(kMaxDigitRun) +
                          " digits, which std::regex cannot read safely");
  try {
    return std::regex(pattern);
  } catch (const std::regex_error& e) {
    fail_input(where, quoted + " is not a regular expression (" + e.what() + ")");
  }
}

}  // namespace mp
