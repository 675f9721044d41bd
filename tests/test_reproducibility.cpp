// Same inputs, seed and thread count give byte-identical outputs: each tool runs twice into the same
// path and every file it wrote must hash the same. Only the wall-clock records differ: the run
// section of manifest.json and metrics.jsonl (whose tokens/s are measurements).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "lib/pipeline/provenance.h"
#include "lib/base/sha256.h"
#include "tests/test_support.h"

namespace fs = std::filesystem;
using mp::test::run_modelpress;

namespace {

// Every file under `root` (a file or a directory) → sha256; manifests contribute their file lists.
std::map<std::string, std::string> fingerprint(const fs::path& root) {
  std::map<std::string, std::string> out;
  auto add = [&](const fs::path& p, const std::string& name) {
    if (!mp::is_wall_clock_record(p.filename().string())) {
      out[name] = mp::sha256_file(p.string());
      return;
    }
    if (p.extension() == ".jsonl") return;
    std::ifstream in(p);
    nlohmann::json manifest = nlohmann::json::parse(in);
    for (const auto& [file, entry] : manifest["files"].items())
      if (!mp::is_wall_clock_record(fs::path(file).filename().string())) out[name + ":" + file] = entry["sha256"];
    manifest.erase("run");
    manifest.erase("files");
    out[name + ":header"] = manifest.dump();
  };
  if (fs::is_directory(root)) {
    for (const auto& e : fs::recursive_directory_iterator(root))
      if (e.is_regular_file()) add(e.path(), fs::relative(e.path(), root).generic_string());
  } else {
    add(root, root.filename().string());
    const fs::path manifest = root.string() + ".manifest.json";
    if (fs::exists(manifest)) add(manifest, manifest.filename().string());
  }
  return out;
}

// Runs `args` twice; the outputs at `outputs` must be identical file for file.
void check_runs_identical(const std::string& args, const std::vector<std::string>& outputs) {
  std::vector<std::map<std::string, std::string>> runs;
  for (int run = 0; run < 2; ++run) {
    for (const auto& o : outputs) fs::remove_all(o);
    const auto r = run_modelpress(args);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    std::map<std::string, std::string> all;
    for (const auto& o : outputs)
      for (auto& [name, hash] : fingerprint(o)) all[o + "/" + name] = hash;
    runs.push_back(all);
  }
  CHECK(runs[0].size() >= outputs.size());
  for (const auto& [name, hash] : runs[0]) {
    INFO(name);
    CHECK(runs[1].count(name) == 1);
    if (runs[1].count(name)) CHECK(runs[1].at(name) == hash);
  }
  CHECK(runs[0].size() == runs[1].size());
}

}  // namespace

TEST_CASE("tokenize is byte-reproducible", "[reproducible]") {
  mp::test::ScratchDir dir;
  check_runs_identical("tokenize --tokenizer '" + mp::test::shared_path("models/stories260K/tokenizer.model") +
                           "' --out '" + dir.path("calib.h5") + "' '" +
                           mp::test::shared_path("corpora/tinystories/calib.txt") + "'",
                       {dir.path("calib.h5")});
}

TEST_CASE("export is byte-reproducible", "[reproducible]") {
  mp::test::ScratchDir dir;
  for (const char* type : {"F16", "Q4_K_M"})
    check_runs_identical(std::string("export --quiet --type ") + type + " --model '" +
                             mp::test::shared_path("models/stories260K") + "' -o '" + dir.path("m.gguf") + "'",
                         {dir.path("m.gguf")});
}

TEST_CASE("quantize (GPTQ) is byte-reproducible", "[reproducible]") {
  mp::test::ScratchDir dir;
  check_runs_identical("quantize --method gptq --bits 4 --group-size 32 --nsamples 4 --seqlen 64 --threads 1 --quiet "
                       "--model '" + mp::test::shared_path("models/stories260K") + "' --calib '" +
                           mp::test::shared_path("corpora/tinystories/calib.txt") + "' --out '" + dir.path("q") + "'",
                       {dir.path("q")});
}

TEST_CASE("distill-train with a cached teacher is byte-reproducible", "[reproducible]") {
  mp::test::ScratchDir dir;
  const std::string teacher = mp::test::shared_path("models/stories260K");
  // The first 64 KiB of the text: the teacher pass over all of calib.txt, twice, took minutes (and
  // past the test's timeout on a loaded machine) without telling more.
  std::ofstream(dir.path("text.txt")) << mp::test::read_file(mp::test::shared_path("corpora/tinystories/calib.txt")).substr(0, 65536);
  check_runs_identical("distill-train --teacher '" + teacher + "' --init-from-teacher --keep-layers 0,4 "
                       "--cache-teacher '" + dir.path("cache.h5") + "' --data '" + dir.path("text.txt") +
                           "' --out '" + dir.path("student") +
                           "' --steps 4 --batch 2 --seq 64 --checkpoint-every 2 --threads 1 --quiet",
                       {dir.path("cache.h5"), dir.path("student")});
}

TEST_CASE("tokenizer-train is byte-reproducible", "[reproducible]") {
  mp::test::ScratchDir dir;
  check_runs_identical("tokenizer-train --vocab-size 512 --text '" +
                           mp::test::shared_path("corpora/tinystories/calib.txt") + "' --out '" + dir.path("tok") + "'",
                       {dir.path("tok")});
}

TEST_CASE("outputs carry no trace of where they were built: two directories, two working directories", "[reproducible]") {
  // The same job run from a/ and from b/, each with its own link to the inputs, into differently
  // named outputs: the files themselves are identical (manifests, beside them, record the paths).
  mp::test::ScratchDir dir;
  for (const char* cwd : {"a", "b"}) {
    fs::create_directories(dir.path(cwd));
    fs::create_directory_symlink(mp::test::shared_path("models/stories260K"), dir.path(cwd) + "/model");
    fs::create_symlink(mp::test::shared_path("corpora/tinystories/calib.txt"), dir.path(cwd) + "/calib.txt");
  }
  const std::map<std::string, std::string> outputs = {{"a", dir.path("a/out-one")}, {"b", dir.path("elsewhere/two")}};
  fs::create_directories(dir.path("elsewhere"));
  std::vector<std::map<std::string, std::string>> runs;
  for (const auto& [cwd, out] : outputs) {
    const std::string setup = "cd '" + dir.path(cwd) + "';";
    auto r = mp::test::run_modelpress_after(setup, "export --quiet --type Q8_0 --model model -o '" + out + ".gguf'");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    r = mp::test::run_modelpress_after(setup, "quantize --method rtn --bits 4 --group-size 32 --nsamples 2 --seqlen 32 "
                                              "--threads 1 --quiet --model model --calib calib.txt --out '" + out + "'");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    // The calibrated GGUF paths: an importance matrix, an export that reads it (its name is
    // recorded in the file, as llama-quantize records it), GPTQ on the ggml blocks.
    r = mp::test::run_modelpress_after(setup, "imatrix --quiet -t 1 --ctx 64 --chunks 4 --model model --calib calib.txt "
                                              "-o '" + out + ".imatrix.gguf'");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    fs::copy_file(out + ".imatrix.gguf", dir.path(cwd) + "/imatrix.gguf");
    r = mp::test::run_modelpress_after(setup, "export --quiet --type Q4_0 --imatrix imatrix.gguf --model model -o '" +
                                              out + ".imatrix-q4_0.gguf'");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    for (const char* provenance : {"file", "manifest"}) {
      r = mp::test::run_modelpress_after(setup, std::string("quantize --method gptq --to gguf --type Q4_0 --nsamples 2 "
                                                            "--seqlen 32 --threads 1 --quiet --provenance ") +
                                                    provenance + " --model model --calib calib.txt --out '" + out +
                                                    ".gptq-" + provenance + ".gguf'");
      INFO(r.err);
      REQUIRE(r.exit_code == 0);
    }
    std::map<std::string, std::string> hashes;
    for (const char* suffix : {".gguf", ".imatrix.gguf", ".imatrix-q4_0.gguf", ".gptq-file.gguf", ".gptq-manifest.gguf"})
      hashes[suffix] = mp::sha256_file(out + suffix);
    for (const auto& e : fs::directory_iterator(out))
      if (!mp::is_wall_clock_record(e.path().filename().string()))
        hashes[e.path().filename().string()] = mp::sha256_file(e.path().string());
    runs.push_back(hashes);
  }
  CHECK(runs[0].size() >= 7);
  CHECK(runs[0] == runs[1]);
}
