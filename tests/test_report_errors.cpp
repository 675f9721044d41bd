// The last resort of every tool (lib/base/report_errors.h): whatever a command throws, the user sees
// one line and an exit code. Validation catches every case known to reach it, so these throw directly.
#include <catch2/catch.hpp>

#include <c10/util/Exception.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <new>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "lib/base/error.h"
#include "lib/base/report_errors.h"
#include "tests/test_support.h"

namespace {

struct Reported {
  int exit_code;
  std::string err;
};

// Runs `command` through run_reporting_errors with stderr sent to a file.
Reported report_of(const std::function<int()>& command) {
  const std::string path = (std::filesystem::temp_directory_path() / ("report-errors-" + std::to_string(::getpid()))).string();
  std::fflush(stderr);
  const int saved = ::dup(2);
  std::FILE* file = std::fopen(path.c_str(), "w");
  REQUIRE(file != nullptr);
  ::dup2(::fileno(file), 2);
  const int code = mp::run_reporting_errors(command);
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  std::fclose(file);
  Reported r{code, mp::test::read_file(path)};
  std::filesystem::remove(path);
  return r;
}

// Exactly one line, starting as every modelpress error does.
void require_one_line(const Reported& r, const std::string& expected_text) {
  INFO("stderr: " << r.err);
  REQUIRE(r.err.rfind("modelpress: error: ", 0) == 0);
  REQUIRE(r.err.find('\n') == r.err.size() - 1);
  REQUIRE(r.err.find(expected_text) != std::string::npos);
}

}  // namespace

TEST_CASE("a command that succeeds or returns a code reports nothing", "[report_errors]") {
  const Reported ok = report_of([] { return 0; });
  REQUIRE(ok.exit_code == 0);
  REQUIRE(ok.err.empty());
  REQUIRE(report_of([] { return 2; }).exit_code == 2);
}

TEST_CASE("modelpress's own errors keep their exit code", "[report_errors]") {
  const Reported r = report_of([]() -> int { mp::fail_input("model/config.json", "'vocab_size' must be positive"); });
  REQUIRE(r.exit_code == 3);
  require_one_line(r, "model/config.json: 'vocab_size' must be positive");
  REQUIRE(report_of([]() -> int { mp::fail_runtime("disk full"); }).exit_code == 1);
}

TEST_CASE("a LibTorch check that validation missed is one line without its stack frames", "[report_errors]") {
  const Reported r = report_of([]() -> int {
    TORCH_CHECK(false, "index 70000 is out of bounds for dimension 0 with size 512");
    return 0;
  });
  REQUIRE(r.exit_code == 1);
  require_one_line(r, "internal check failed: index 70000 is out of bounds");
  REQUIRE(r.err.find("frame #") == std::string::npos);
}

TEST_CASE("running out of memory is one line", "[report_errors]") {
  const Reported r = report_of([]() -> int { throw std::bad_alloc(); });
  REQUIRE(r.exit_code == 1);
  require_one_line(r, "out of memory");
}

TEST_CASE("a JSON type error that validation missed says what it is", "[report_errors]") {
  const Reported r = report_of([] { return nlohmann::json::parse(R"({"eos_token_id": []})").at("eos_token_id").get<int>(); });
  REQUIRE(r.exit_code == 1);
  require_one_line(r, "unexpected JSON content: ");
  REQUIRE(r.err.find("type must be number") != std::string::npos);
}

TEST_CASE("a message with several lines and terminal controls becomes one safe line", "[report_errors]") {
  const Reported r = report_of([]() -> int { throw std::runtime_error("piece \x1b[2J cleared\nsecond line"); });
  REQUIRE(r.exit_code == 1);
  require_one_line(r, "piece ");
  REQUIRE(r.err.find('\x1b') == std::string::npos);
  REQUIRE(r.err.find("second line") == std::string::npos);
}

TEST_CASE("an exception of no standard type still ends in one line", "[report_errors]") {
  const Reported r = report_of([]() -> int { throw 42; });
  REQUIRE(r.exit_code == 1);
  require_one_line(r, "unexpected failure");
}
