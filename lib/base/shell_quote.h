// Command lines as a POSIX shell would run them again: what `run --dry-run` prints and what every
// output records as the command that made it.
#pragma once
#include <string>
#include <vector>

namespace mp {

// The word unchanged when it is safe, else in single quotes.
std::string shell_quote(const std::string& word);
// The words shell-quoted and joined by spaces.
std::string shell_command_line(const std::vector<std::string>& argv);

}  // namespace mp
