// Reading a whole text input, the way every tool takes its text arguments.
#pragma once
#include <string>

namespace mp {

// A whole text file, or standard input for "-"; a missing or unreadable file is a bad-input error
// naming it.
std::string read_text_file(const std::string& path);

}  // namespace mp
