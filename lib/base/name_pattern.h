// Regular expressions over module and tensor names, from the command line (--skip, --override,
// --tensor-type) and from files (GPTQModel's quantization_config.dynamic). Compiled here so that a
// pattern std::regex cannot take safely is bad input naming where it came from.
#pragma once
#include <regex>
#include <string>

namespace mp {

// The compiled pattern, or a bad-input error naming `where`.
std::regex compile_name_pattern(const std::string& pattern, const std::string& where);

}  // namespace mp
