// Faults while writing (a file size limit, an output that cannot be created, a second run writing
// the same output) and hostile strings reaching the terminal: one clear line, the right exit code,
// no partial output, no control sequences.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "formats/safetensors.h"
#include "lib/base/atomic_output.h"
#include "tests/hostile_inputs.h"

namespace fs = std::filesystem;
using mp::test::quoted;

namespace {

std::string export_to(const std::string& out) {
  return "export -q --type Q8_0 -m " + quoted(mp::test::shared_path("models/stories260K")) + " -o " +
         quoted(out);
}

// Failed with one line on stderr that holds `words`, and left nothing in `dir` but `kept`.
void require_clean_failure(const mp::test::CommandResult& r, int exit_code, const std::string& words) {
  INFO("exit " << r.exit_code << ", stderr: " << r.err.substr(0, 2000));
  CHECK(r.exit_code == exit_code);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.find(words) != std::string::npos);
}

}  // namespace

TEST_CASE("hostile outputs: past a file size limit, writers report EFBIG and leave nothing", "[hostile]") {
  mp::test::ScratchDir dir;
  const std::string model = mp::test::shared_path("models/stories260K");
  // ulimit -f counts 512-byte blocks: 40 KB, less than any of these outputs.
  const std::string limit = "ulimit -f 80;";
  require_clean_failure(mp::test::run_modelpress_after(limit, export_to(dir.path("m.gguf"))), 1, "File too large");
  mp::test::require_no_output(dir.path(), "m.gguf");

  require_clean_failure(
      mp::test::run_modelpress_after(limit, "quantize -q --method rtn --bits 8 --group-size 32 --nsamples 2 --seqlen 32 "
                                            "--threads 1 -m " + quoted(model) + " -o " + quoted(dir.path("q")) +
                                            " --calib " + quoted(mp::test::shared_path("corpora/tinystories/calib.txt"))),
      1, "File too large");
  mp::test::require_no_output(dir.path(), "q");

  require_clean_failure(
      mp::test::run_modelpress_after("ulimit -f 8;", "tokenize --tokenizer " + quoted(model + "/tokenizer.model") +
                                                         " --out " + quoted(dir.path("t.h5")) + " " +
                                                         quoted(mp::test::shared_path("corpora/tinystories/calib.txt"))),
      1, "t.h5");
  mp::test::require_no_output(dir.path(), "t.h5");
}

TEST_CASE("hostile outputs: an output path that is a directory, or cannot be created, is one clear line", "[hostile]") {
  mp::test::ScratchDir dir;
  fs::create_directories(dir.path("existing"));
  require_clean_failure(mp::test::run_modelpress(export_to(dir.path("existing"))), 3, "is a directory");
  CHECK(fs::is_empty(dir.path("existing")));
  require_clean_failure(mp::test::run_modelpress(export_to(dir.path("missing/m.gguf"))), 3, "no such directory");
  // /proc refuses new files whoever we are (root ignores permission bits).
  require_clean_failure(mp::test::run_modelpress(export_to("/proc/modelpress-test.gguf")), 3, "cannot create");
}

TEST_CASE("hostile outputs: a second run writing the same output at once fails clearly", "[hostile]") {
  mp::test::ScratchDir dir;
  const std::string out = dir.path("m.gguf");
  // The first run is this test, holding the output's lock as a running export does.
  const int held = ::open(dir.path(".m.gguf.lock").c_str(), O_RDWR | O_CREAT, 0644);
  REQUIRE(held >= 0);
  REQUIRE(::flock(held, LOCK_EX | LOCK_NB) == 0);
  require_clean_failure(mp::test::run_modelpress(export_to(out)), 3, "another modelpress run is writing");
  CHECK_FALSE(fs::exists(out));
  ::close(held);
  const auto r = mp::test::run_modelpress(export_to(out));
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(fs::exists(out));
  CHECK_FALSE(fs::exists(dir.path(".m.gguf.lock")));
}

TEST_CASE("hostile outputs: strings from files reach the terminal without control sequences", "[hostile]") {
  mp::test::ScratchDir dir;
  const std::string evil = "\x1b]0;owned\x07\x1b[2J\xc2\x9b" "31m";
  const std::string model =
      mp::test::stories_with_config(dir.path("m"), [&](nlohmann::json& c) { c["model_type"] = "llama" + evil; });
  const auto refused = mp::test::run_modelpress("inspect " + quoted(model));
  CHECK(refused.exit_code == 3);
  CHECK(refused.err.find('\x1b') == std::string::npos);
  CHECK(refused.err.find("\\x1b]0;owned\\x07") != std::string::npos);  // escaped, still readable
  CHECK(refused.err.find("\xc2\x9b") == std::string::npos);

  const mp::SafetensorsFile original(model + "/model.safetensors");
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& info : original.tensors()) tensors.emplace_back(info.name, original.tensor(info).clone());
  tensors.emplace_back("evil" + evil, at::zeros({1}));
  mp::save_safetensors(dir.path("evil.safetensors"), tensors, {{"note", evil}});
  const auto listed = mp::test::run_modelpress("inspect " + quoted(dir.path("evil.safetensors")));
  INFO(listed.err);
  CHECK(listed.exit_code == 0);
  CHECK(listed.out.find("evil\\x1b") != std::string::npos);
  CHECK(listed.out.find('\x1b') == std::string::npos);
  CHECK(listed.out.find('\x07') == std::string::npos);
}

TEST_CASE("hostile outputs: temporaries a killed run left behind are removed by the next run", "[hostile]") {
  // scripts/kill9.sh found a distill-train resumed after a kill finishing with the killed run's
  // OUT/.checkpoint.partial-PID/ inside its output. The next writer of an output holds its lock, so
  // every `.NAME.partial-PID` beside it is abandoned.
  mp::test::ScratchDir dir;
  const std::string out = dir.path("m.gguf");
  fs::create_directories(dir.path(".m.gguf.partial-4242/inner"));
  std::ofstream(dir.path(".m.gguf.partial-4243")) << "half a file";
  std::ofstream(dir.path(".m.gguf.partial-notapid")) << "not ours";
  std::ofstream(dir.path(".other.gguf.partial-4244")) << "another output's";
  const auto r = mp::test::run_modelpress(export_to(out));
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(fs::exists(out));
  CHECK_FALSE(fs::exists(dir.path(".m.gguf.partial-4242")));
  CHECK_FALSE(fs::exists(dir.path(".m.gguf.partial-4243")));
  CHECK(fs::exists(dir.path(".m.gguf.partial-notapid")));
  CHECK(fs::exists(dir.path(".other.gguf.partial-4244")));
}

TEST_CASE("hostile outputs: a directory output a killed run had moved aside is put back, else removed", "[hostile]") {
  // AtomicDirectory::commit() moves the existing output to `.NAME.previous-PID` before renaming the
  // new one into place, and removes it after: a SIGKILL between the steps leaves it behind.
  mp::test::ScratchDir dir;
  const std::string out = dir.path("out");
  fs::create_directories(dir.path(".out.previous-4242"));
  std::ofstream(dir.path(".out.previous-4242/model.safetensors")) << "the complete previous output";
  { const mp::OutputLock lock(out); }
  CHECK(fs::exists(dir.path("out/model.safetensors")));
  CHECK_FALSE(fs::exists(dir.path(".out.previous-4242")));

  fs::create_directories(dir.path(".out.previous-4243"));
  { const mp::OutputLock lock(out); }
  CHECK_FALSE(fs::exists(dir.path(".out.previous-4243")));
  CHECK(fs::exists(dir.path("out/model.safetensors")));
}

TEST_CASE("hostile outputs: a resumed directory output drops the locks and temporaries of the files a kill cut short",
          "[hostile]") {
  // scripts/kill9.sh found a quantize resumed after a kill committing the killed run's
  // `.progress.json.lock` inside its output: that file is not written again when every layer was done.
  mp::test::ScratchDir dir;
  const std::string out = dir.path("out");
  const std::string staging = dir.path(".out.resumable");
  fs::create_directories(staging);
  std::ofstream(staging + "/model-00001-of-00002.safetensors") << "a finished layer";
  std::ofstream(staging + "/.progress.json.lock");
  std::ofstream(staging + "/.config.json.partial-4242") << "half a file";
  {
    mp::AtomicDirectory resumed(out, mp::AtomicDirectory::Partial::keep_for_resume);
    resumed.start(true);
    resumed.commit();
  }
  CHECK(fs::exists(dir.path("out/model-00001-of-00002.safetensors")));
  CHECK_FALSE(fs::exists(dir.path("out/.progress.json.lock")));
  CHECK_FALSE(fs::exists(dir.path("out/.config.json.partial-4242")));
}
