// modelpress runs with OMP_WAIT_POLICY=PASSIVE and OPENBLAS_THREAD_TIMEOUT=4 unless the user chose
// values. The variables have to be in the environment the process started with (libgomp and
// OpenBLAS read them before main), so the test reads /proc/PID/environ of a running modelpress:
// `eval -f -` waits on its standard input meanwhile.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "tests/test_support.h"

namespace {

// The value of `variable` in the environment modelpress runs with, given the one it is started with
// (nullptr: unset). Empty when it never appeared within a minute.
std::string value_seen(const std::string& variable, const char* started_with) {
  const std::string binary = mp::test::modelpress_binary(), model = mp::test::shared_path("models/stories260K");
  int input[2];
  REQUIRE(::pipe(input) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(input[0], 0);
    ::close(input[1]);
    if (started_with) ::setenv(variable.c_str(), started_with, 1);
    else ::unsetenv(variable.c_str());
    ::execl(binary.c_str(), binary.c_str(), "eval", "-q", "--threads", "1", "-m", model.c_str(), "-f", "-",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(input[0]);
  std::string seen;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  const std::string proc = "/proc/" + std::to_string(pid) + "/";
  const std::string key = variable + "=";
  while (seen.empty() && std::chrono::steady_clock::now() < deadline) {
    // Until the exec the child shows the test's own environment; only modelpress's counts (the
    // command line first: once it is modelpress's, the environment read after it is too).
    const bool is_modelpress = mp::test::read_file(proc + "cmdline").find("eval") != std::string::npos;
    const std::string env_block = mp::test::read_file(proc + "environ");
    if (is_modelpress) {
      for (size_t start = 0; start < env_block.size() && seen.empty();) {
        const size_t end = std::min(env_block.find('\0', start), env_block.size());
        if (env_block.compare(start, key.size(), key) == 0) seen = env_block.substr(start + key.size(), end - start - key.size());
        start = end + 1;
      }
    }
    if (seen.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::close(input[1]);  // end of the text: eval finds nothing to score and exits
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return seen;
}

}  // namespace

TEST_CASE("modelpress's idle threads sleep unless the user set the variables", "[cli][threads]") {
  CHECK(value_seen("OMP_WAIT_POLICY", nullptr) == "PASSIVE");
  CHECK(value_seen("OMP_WAIT_POLICY", "ACTIVE") == "ACTIVE");
  CHECK(value_seen("OPENBLAS_THREAD_TIMEOUT", nullptr) == "4");
  CHECK(value_seen("OPENBLAS_THREAD_TIMEOUT", "28") == "28");
}
