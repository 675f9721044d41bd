// Running any program from a test, as run_modelpress (test_support.h) runs the built binary.
#pragma once
#include <string>

#include "tests/test_support.h"

namespace mp::test {

// `program` is one or more shell words (quote paths), e.g. `env -u X '/prefix/bin/modelpress'`.
CommandResult run_program(const std::string& program, const std::string& args, const std::string& stdin_text = "");

}  // namespace mp::test
