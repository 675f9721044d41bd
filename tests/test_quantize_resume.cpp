// Per-layer resume of `modelpress quantize`: a run stopped after a layer (as if killed) and resumed
// writes exactly the bytes of an uninterrupted run, a resume with other options is refused, and
// the same command run twice writes the same bytes. Every run writes to the same output path,
// since the command line is part of what the outputs record.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "tests/test_support.h"
#include "tests/tree_hash.h"

using namespace mp;
namespace fs = std::filesystem;

namespace {

struct ResumeFixture {
  test::ScratchDir dir;
  std::string model, out, resumable;
  explicit ResumeFixture(const std::string& model_type = "llama") {
    model = dir.path("model");
    auto config = test::tiny_config(model_type);
    config["num_hidden_layers"] = 3;
    test::write_random_model(model, config, 7);
    fs::copy_file(test::shared_path("models/stories260K/tokenizer.model"), model + "/tokenizer.model");
    out = dir.path("out");
    resumable = dir.path(".out.resumable");
  }
  test::CommandResult quantize(const std::string& options) const {
    return test::run_modelpress("quantize -q -m '" + model + "' -o '" + out + "' --nsamples 4 --seqlen 32 --calib '" +
                                test::shared_path("corpora/tinystories/calib.txt") + "' --group-size 16 " + options);
  }
  // Runs to completion and returns the output's hashes, leaving no output behind.
  std::map<std::string, std::string> complete(const std::string& options) const {
    auto r = quantize(options);
    INFO(options << "\n" << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK_FALSE(fs::exists(resumable));
    auto hashes = test::hash_tree(out);
    fs::remove_all(out);
    return hashes;
  }
};

const char* kMethods[] = {"--method rtn", "--method gptq --act-order", "--method awq --grid 4 --clip-tokens 64"};

}  // namespace

TEST_CASE("quantize --resume after --stop-after-layer writes the bytes of an uninterrupted run", "[quantize][resume]") {
  ResumeFixture f;
  for (const char* method : kMethods) {
    DYNAMIC_SECTION(method) {
      const auto uninterrupted = f.complete(method);
      REQUIRE(uninterrupted.count("quantize_report.json"));
      REQUIRE(uninterrupted.count("model-00001-of-00004.safetensors"));
      CHECK_FALSE(uninterrupted.count("progress.json"));
      for (int stop : {0, 1}) {
        auto r = f.quantize(std::string(method) + " --stop-after-layer " + std::to_string(stop));
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        CHECK_FALSE(fs::exists(f.out));
        REQUIRE(fs::exists(f.resumable + "/progress.json"));
        r = f.quantize(std::string(method) + " --resume");
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        CHECK(r.err.find(std::to_string(stop + 1) + " of 3 layers were finished") != std::string::npos);
        CHECK(r.err.find("resuming from the calibration states after layer " + std::to_string(stop)) != std::string::npos);
        CHECK_FALSE(fs::exists(f.resumable));
        CHECK(test::hash_tree(f.out) == uninterrupted);
        fs::remove_all(f.out);
      }
    }
  }
}

// Without the saved calibration states (a run killed before it wrote them), the finished layers
// are run again to rebuild them.
TEST_CASE("quantize --resume without saved calibration states runs the finished layers again", "[quantize][resume]") {
  ResumeFixture f;
  const char* method = "--method gptq";
  const auto uninterrupted = f.complete(method);
  auto r = f.quantize(std::string(method) + " --stop-after-layer 1");
  REQUIRE(r.exit_code == 0);
  REQUIRE(fs::remove(f.resumable + "/calibration-states.safetensors"));
  r = f.quantize(std::string(method) + " --resume");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("resuming from the calibration states") == std::string::npos);
  CHECK(test::hash_tree(f.out) == uninterrupted);
}

// Damaged saved states (they are only a cache of the finished layers' outputs) are rebuilt, not
// trusted and not fatal.
TEST_CASE("quantize --resume with damaged calibration states runs the finished layers again", "[quantize][resume]") {
  ResumeFixture f;
  const char* method = "--method gptq";
  const auto uninterrupted = f.complete(method);
  const std::string states = f.resumable + "/calibration-states.safetensors";
  for (const char* damage : {"garbage", "truncated"}) {
    INFO(damage);
    REQUIRE(f.quantize(std::string(method) + " --stop-after-layer 1").exit_code == 0);
    REQUIRE(fs::exists(states));
    if (std::string(damage) == "garbage") std::ofstream(states, std::ios::trunc) << "not a safetensors file";
    else fs::resize_file(states, fs::file_size(states) / 2);
    auto r = f.quantize(std::string(method) + " --resume");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.find("ignoring the saved calibration states") != std::string::npos);
    CHECK(r.err.find(states) != std::string::npos);
    CHECK(r.err.find("resuming from the calibration states") == std::string::npos);
    CHECK(test::hash_tree(f.out) == uninterrupted);
    fs::remove_all(f.out);
  }
}

// A resumed layer's biases are read as stored, not taken for the packed weight beside them.
TEST_CASE("quantize --resume of a model with biases writes the bytes of an uninterrupted run", "[quantize][resume]") {
  ResumeFixture f("qwen2");
  const auto uninterrupted = f.complete("--method gptq");
  REQUIRE(f.quantize("--method gptq --stop-after-layer 0").exit_code == 0);
  auto r = f.quantize("--method gptq --resume");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(test::hash_tree(f.out) == uninterrupted);
}

TEST_CASE("quantize: the same command twice writes the same bytes", "[quantize][resume]") {
  ResumeFixture f;
  for (const char* method : kMethods) {
    DYNAMIC_SECTION(method) {
      const auto first = f.complete(method);
      CHECK(first.size() >= 7);  // 4 shards, index, config, report, tokenizer
      CHECK(f.complete(method) == first);
    }
  }
}

TEST_CASE("quantize --resume refuses other options, and a run without --resume starts over", "[quantize][resume]") {
  ResumeFixture f;
  REQUIRE(f.quantize("--method gptq --bits 4 --stop-after-layer 0").exit_code == 0);
  REQUIRE(fs::exists(f.resumable));
  for (const char* changed : {"--method gptq --bits 3", "--method rtn --bits 4", "--method gptq --bits 4 --seed 1",
                              "--method gptq --bits 4 --damp 0.02"}) {
    INFO(changed);
    auto r = f.quantize(std::string(changed) + " --resume");
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("progress.json: the interrupted run had ") != std::string::npos);
    CHECK(r.err.find("rerun without --resume to start over") != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK_FALSE(fs::exists(f.out));
    CHECK(fs::exists(f.resumable + "/progress.json"));  // a refused resume leaves the finished layers alone
  }
  // Without --resume the finished layer is discarded and the run starts over.
  auto r = f.quantize("--method gptq --bits 3");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("layers were finished") == std::string::npos);
  CHECK_FALSE(fs::exists(f.resumable));
  CHECK(fs::exists(f.out + "/quantize_report.json"));
}
