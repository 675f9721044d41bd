// The conventions of docs/cli.md, tool by tool, through the binary: --json is one JSON document and
// nothing else on stdout, with the numbers each tool promises; '-' reads stdin (eval, generate,
// tokenize) or writes stdout (export); exit codes 0/1/2/3; --version.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

#include "distill/token_dataset.h"
#include "formats/gguf_file.h"
#include "tests/test_support.h"

namespace {

const std::string& model() {
  static const std::string dir = mp::test::shared_path("models/stories260K");
  return dir;
}

// A few hundred tokens of TinyStories: enough for two 64-token chunks.
std::string story_text() {
  return mp::test::read_file(mp::test::shared_path("corpora/tinystories/eval.txt")).substr(0, 2000);
}

std::string quoted(const std::string& path) { return "'" + path + "'"; }

// Succeeds, and stdout parses as a single JSON document (parse() rejects anything after it).
nlohmann::json json_of(const mp::test::CommandResult& r) {
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  nlohmann::json j;
  REQUIRE_NOTHROW(j = nlohmann::json::parse(r.out));
  return j;
}

void require_numbers(const nlohmann::json& j, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    INFO(key << " in " << j.dump());
    REQUIRE(j.contains(key));
    CHECK(j[key].is_number());
  }
}

}  // namespace

TEST_CASE("cli: --json is one JSON document on stdout for every tool", "[cli]") {
  mp::test::ScratchDir dir;
  std::ofstream(dir.path("story.txt")) << story_text();

  require_numbers(json_of(mp::test::run_modelpress("inspect --json " + quoted(model()))),
                  {"tensor_count", "parameters", "bytes"});
  require_numbers(json_of(mp::test::run_modelpress("eval -m " + quoted(model()) + " -f " + quoted(dir.path("story.txt")) +
                                                   " --ctx 64 --chunks 2 --json --threads 1")),
                  {"ctx", "chunks", "tokens_scored", "ppl", "ppl_error"});
  require_numbers(json_of(mp::test::run_modelpress("generate -m " + quoted(model()) + " -n 4 --json --threads 1")),
                  {"prefill_seconds", "decode_tokens_per_s"});
  require_numbers(json_of(mp::test::run_modelpress("tokenize --tokenizer " + quoted(model() + "/tokenizer.model") +
                                                   " --out " + quoted(dir.path("t.h5")) + " --json " +
                                                   quoted(dir.path("story.txt")))),
                  {"documents", "tokens"});
  const auto quantized = json_of(mp::test::run_modelpress(
      "quantize --method rtn -m " + quoted(model()) + " -o " + quoted(dir.path("rtn")) + " --calib " +
      quoted(dir.path("story.txt")) + " --nsamples 2 --seqlen 32 --json --threads 1"));
  require_numbers(quantized, {"seconds", "calibration_tokens"});
  CHECK(quantized["linears"].size() == 5 * 7);
  require_numbers(json_of(mp::test::run_modelpress("prune -m " + quoted(model()) + " --out " + quoted(dir.path("pruned")) +
                                                   " --data " + quoted(dir.path("story.txt")) +
                                                   " --ffn 64 --nsamples 2 --seqlen 32 --json --threads 1"))["after"],
                  {"parameters", "intermediate_size"});
  require_numbers(json_of(mp::test::run_modelpress("distill-train --student " + quoted(model()) + " --data " +
                                                   quoted(dir.path("t.h5")) + " --out " + quoted(dir.path("student")) +
                                                   " --steps 1 --batch 1 --seq 32 --json --threads 1")),
                  {"steps_done", "tokens_seen", "tokens_per_s", "final_train_loss", "student_parameters"});
  require_numbers(json_of(mp::test::run_modelpress("export -m " + quoted(model()) + " --type F32 -o " +
                                                   quoted(dir.path("m.gguf")) + " --json")),
                  {"tensors", "weights", "tensor_bytes", "bits_per_weight"});
}

TEST_CASE("cli: '-' reads standard input for eval, generate and tokenize", "[cli]") {
  mp::test::ScratchDir dir;
  const std::string text = story_text();
  std::ofstream(dir.path("story.txt")) << text;

  const std::string eval = "eval -m " + quoted(model()) + " --ctx 64 --chunks 2 --json --threads 1 -f ";
  const auto from_file = json_of(mp::test::run_modelpress(eval + quoted(dir.path("story.txt"))));
  const auto from_stdin = json_of(mp::test::run_modelpress(eval + "-", text));
  CHECK(from_stdin["tokens_scored"] == from_file["tokens_scored"]);
  CHECK(from_stdin["ppl"] == from_file["ppl"]);

  // `echo` adds a newline; the prompt file drops it, so both prompts are the same tokens.
  const std::string generate = "generate -m " + quoted(model()) + " -n 8 --json --threads 1 ";
  const auto prompted = json_of(mp::test::run_modelpress(generate + "-p 'Once upon a time'"));
  const auto piped = json_of(mp::test::run_modelpress(generate + "--prompt-file -", "Once upon a time\n"));
  CHECK(piped["prompt_tokens"] == prompted["prompt_tokens"]);
  CHECK(piped["tokens"] == prompted["tokens"]);
  CHECK(prompted["tokens"].size() == 8);

  const std::string tokenize = "tokenize --tokenizer " + quoted(model() + "/tokenizer.model") + " --json --out ";
  const auto file_counts =
      json_of(mp::test::run_modelpress(tokenize + quoted(dir.path("file.h5")) + " " + quoted(dir.path("story.txt"))));
  const auto stdin_counts = json_of(mp::test::run_modelpress(tokenize + quoted(dir.path("stdin.h5")) + " -", text));
  CHECK(stdin_counts["documents"] == file_counts["documents"]);
  CHECK(stdin_counts["tokens"] == file_counts["tokens"]);
  CHECK(file_counts["tokens"].get<int64_t>() > 100);
  const mp::TokenDataset a(dir.path("file.h5")), b(dir.path("stdin.h5"));
  CHECK(a.tokens_sha256() == b.tokens_sha256());
  REQUIRE(b.sources().size() == 1);
  CHECK(b.sources()[0].sha256 == a.sources()[0].sha256);  // the hash of the text, wherever it came from
}

TEST_CASE("cli: export -o - streams the same GGUF to stdout", "[cli]") {
  mp::test::ScratchDir dir;
  const std::string export_q8 = "export -m " + quoted(model()) + " --type Q8_0 ";
  json_of(mp::test::run_modelpress(export_q8 + "-o " + quoted(dir.path("m.gguf")) + " --json"));
  const auto streamed = mp::test::run_modelpress(export_q8 + "-o - --json");
  REQUIRE(streamed.exit_code == 0);
  // The same file: the recorded command line leaves the destination out.
  std::ofstream(dir.path("streamed.gguf"), std::ios::binary) << streamed.out;
  const mp::GgufFile from_file(dir.path("m.gguf")), from_stream(dir.path("streamed.gguf"));
  REQUIRE(from_stream.metadata().size() == from_file.metadata().size());
  for (size_t i = 0; i < from_file.metadata().size(); ++i) {
    const auto& [key, value] = from_file.metadata()[i];
    INFO(key);
    CHECK(from_stream.metadata()[i].first == key);
    CHECK(from_stream.metadata()[i].second == value);
  }
  REQUIRE(from_file.tensors().front().offset == 0);
  const uint64_t data_bytes = std::filesystem::file_size(dir.path("m.gguf")) - from_file.data_offset();
  REQUIRE(std::filesystem::file_size(dir.path("streamed.gguf")) - from_stream.data_offset() == data_bytes);
  CHECK(std::memcmp(from_file.bytes(from_file.tensors().front()), from_stream.bytes(from_stream.tensors().front()),
                    data_bytes) == 0);
  CHECK(nlohmann::json::parse(streamed.err.substr(streamed.err.find('{')))["tensors"].is_number());
  // A write that fails (a full disk) is a runtime failure, exit 1, naming standard output.
  const std::string full = "'" + mp::test::modelpress_binary() + "' " + export_q8 + "-o - --quiet >/dev/full 2>'" +
                           dir.path("err") + "'";
  const int status = std::system(full.c_str());
  CHECK(WEXITSTATUS(status) == 1);
  CHECK_THAT(mp::test::read_file(dir.path("err")), Catch::Contains("write failed"));
}

TEST_CASE("cli: exit codes for usage errors, bad input and --version", "[cli]") {
  for (const char* tool : {"inspect", "eval", "generate", "tokenize", "quantize", "distill-train", "export", "prune"}) {
    INFO(tool);
    const auto unknown = mp::test::run_modelpress(std::string(tool) + " --no-such-option");
    CHECK(unknown.exit_code == 2);
    CHECK(unknown.out.empty());
  }
  CHECK(mp::test::run_modelpress("eval -f story.txt").exit_code == 2);  // --model is required
  CHECK(mp::test::run_modelpress("no-such-tool").exit_code == 2);

  mp::test::ScratchDir dir;
  const std::string missing = quoted(dir.path("missing"));
  for (const std::string& args :
       {"inspect " + missing, "eval -m " + missing + " -f " + missing, "eval -m " + quoted(model()) + " -f " + missing,
        "generate -m " + quoted(model()) + " --prompt-file " + missing,
        "tokenize --tokenizer " + quoted(model() + "/tokenizer.model") + " --out " + quoted(dir.path("t.h5")) + " " + missing,
        "export -m " + missing + " -o " + quoted(dir.path("m.gguf")),
        "prune -m " + missing + " --out " + quoted(dir.path("p"))}) {
    INFO(args);
    const auto r = mp::test::run_modelpress(args);
    CHECK(r.exit_code == 3);
    CHECK_THAT(r.err, Catch::StartsWith("modelpress: error: ") && Catch::Contains(dir.path("missing")));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);  // one line
  }
  CHECK_FALSE(std::filesystem::exists(dir.path("t.h5")));
  CHECK_FALSE(std::filesystem::exists(dir.path("m.gguf")));

  const auto version = mp::test::run_modelpress("--version");
  CHECK(version.exit_code == 0);
  CHECK_THAT(version.out, Catch::Matches("modelpress [0-9]+\\.[0-9]+\\.[0-9]+ \\([0-9a-z]+\\)\n"));
  CHECK(mp::test::run_modelpress("eval --help").exit_code == 0);
}
