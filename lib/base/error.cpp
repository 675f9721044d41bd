#include "lib/base/error.h"

namespace mp {

void fail_input(const std::string& where, const std::string& problem) {
  throw Error(ExitCode::bad_input, where + ": " + problem);
}

void fail_runtime(const std::string& message) { throw Error(ExitCode::runtime_failure, message); }

}  // namespace mp
