#include "tests/test_support.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace mp::test {

std::string shared_path(const std::string& relative) {
  const char* env = std::getenv("MODELPRESS_SHARED");
  fs::path root = env ? fs::path(env) : fs::path(MODELPRESS_SOURCE_DIR) / ".." / "shared";
  fs::path p = root / relative;
  if (!fs::exists(p))
    FAIL("reference data missing: " << p.string()
                                    << " (tests expect ../shared beside the checkout, or MODELPRESS_SHARED)");
  return p.lexically_normal().string();
}

ScratchDir::ScratchDir() {
  static std::atomic<int> counter{0};
  root = fs::temp_directory_path() /
         ("modelpress-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  fs::remove_all(root);
  fs::create_directories(root);
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  fs::remove_all(root, ec);
}

std::string ScratchDir::path(const std::string& name) const {
  return name.empty() ? root.string() : (root / name).string();
}

namespace {
std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

CommandResult run_modelpress(const std::string& args) {
  ScratchDir dir;
  const std::string out = dir.path("stdout"), err = dir.path("stderr");
  const std::string cmd = std::string("'") + MODELPRESS_BINARY + "' " + args + " >'" + out + "' 2>'" + err + "' </dev/null";
  int status = std::system(cmd.c_str());
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  return {code, slurp(out), slurp(err)};
}

}  // namespace mp::test
