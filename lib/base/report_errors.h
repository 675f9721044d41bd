// The one place a failure becomes what the user sees: one line on stderr and an exit code.
#pragma once
#include <functional>

namespace mp {

// Runs `command` and returns its exit code. Whatever it throws ends as one line,
// "modelpress: error: ...", with controls escaped (messages quote file contents), and an exit code:
// an mp::Error's own, 1 for anything else. Exceptions from libraries (LibTorch's checks, nlohmann's
// type errors, std::bad_alloc) reach here only when validation upstream missed a case; they still
// must not show a stack trace or a second line.
int run_reporting_errors(const std::function<int()>& command);

}  // namespace mp
