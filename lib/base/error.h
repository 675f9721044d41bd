// Errors that reach the user: one line, naming the file and the problem, and an exit code.
#pragma once
#include <stdexcept>
#include <string>

namespace mp {

// Documented in docs/cli.md; tools return these from main.
enum class ExitCode : int { ok = 0, runtime_failure = 1, usage = 2, bad_input = 3 };

class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

// A file (or a value the user gave) is malformed: "<where>: <problem>".
[[noreturn]] void fail_input(const std::string& where, const std::string& problem);
// Something went wrong that is not the input's fault.
[[noreturn]] void fail_runtime(const std::string& message);

}  // namespace mp
