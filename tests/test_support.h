// Shared helpers for tests: where ../shared is, scratch directories, running the CLI.
#pragma once
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

namespace mp::test {

// A path under ../shared (or $MODELPRESS_SHARED). Fails the test, loudly, when it is missing.
std::string shared_path(const std::string& relative);
// A fresh, empty directory under the system temp dir, removed when the object dies.
struct ScratchDir {
  ScratchDir();
  ~ScratchDir();
  std::string path(const std::string& name = "") const;
  std::filesystem::path root;
};
struct CommandResult {
  int exit_code;
  std::string out, err;
};
// Runs the built `modelpress` binary with the given arguments (a shell-quoted string).
CommandResult run_modelpress(const std::string& args);

}  // namespace mp::test
