#include "lib/runtime/runtime.h"

#include <ATen/Parallel.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "lib/base/error.h"
#include "lib/base/progress.h"

namespace mp {

RuntimeOptions apply_runtime_settings(const RuntimeSettings& s) {
  if (s.threads < 0) fail_input("--threads", "must be 0 (all cores) or positive");
  const int threads = s.threads > 0 ? s.threads : std::max(1u, std::thread::hardware_concurrency());
  at::set_num_threads(threads);
  Progress::set_quiet(s.quiet);
  return parse_runtime_options(s.device, s.dtype);
}

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
