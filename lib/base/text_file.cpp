#include "lib/base/text_file.h"

#include <fstream>
#include <iostream>
#include <sstream>

#include "lib/base/error.h"

namespace mp {

std::string read_text_file(const std::string& path) {
  if (path == "-") {
    std::stringstream text;
    text << std::cin.rdbuf();
    if (std::cin.bad()) fail_input("standard input", "read failed");
    return text.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_input(path, "cannot open");
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) fail_input(path, "read failed");
  return text.str();
}

}  // namespace mp
