// Every output records what made it (version, commit, command, input hashes, seed), and a manifest
// lists the sha256 of every file.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "formats/gguf_file.h"
#include "formats/hdf5_file.h"
#include "formats/safetensors.h"
#include "lib/pipeline/provenance.h"
#include "lib/base/sha256.h"
#include "lib/base/shell_quote.h"
#include "lib/base/version.h"
#include "tests/test_support.h"

namespace fs = std::filesystem;
using mp::test::run_modelpress;

namespace {

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

// The manifest names exactly the files of the output, with their true sizes and hashes.
void check_manifest_lists(const nlohmann::json& manifest, const std::vector<std::pair<std::string, std::string>>& files) {
  REQUIRE(manifest["files"].size() == files.size());
  for (const auto& [name, path] : files) {
    INFO(name);
    REQUIRE(manifest["files"].contains(name));
    CHECK(manifest["files"][name]["sha256"] == mp::sha256_file(path));
    CHECK(manifest["files"][name]["bytes"] == fs::file_size(path));
  }
  CHECK(manifest["modelpress"]["version"] == mp::version());
  CHECK(manifest["modelpress"]["commit"] == mp::git_commit());
  CHECK(manifest["run"]["elapsed_seconds"].get<double>() >= 0);
}

}  // namespace

TEST_CASE("command lines are recorded as a shell would run them again", "[provenance]") {
  CHECK(mp::shell_command_line({"modelpress", "eval", "--model", "a/b-c.d", "--bits=4"}) ==
        "modelpress eval --model a/b-c.d --bits=4");
  CHECK(mp::shell_command_line({"x", "two words", "it's", ""}) == "x 'two words' 'it'\\''s' ''");
}

TEST_CASE("the recorded command leaves out options that do not change results", "[provenance]") {
  mp::Provenance p;
  p.begin_command({"/build/modelpress", "quantize", "--resume", "--stop-after-layer", "2", "--bits", "4", "-q",
                   "--stop-after-step=7", "--quiet"});
  const auto stamp = p.stamp();
  const auto command = std::find_if(stamp.begin(), stamp.end(), [](const auto& kv) { return kv.first == "command"; });
  REQUIRE(command != stamp.end());
  CHECK(command->second == "modelpress quantize --bits 4");
}

TEST_CASE("a directory's input hash covers its files but not its manifests or logs", "[provenance]") {
  mp::test::ScratchDir dir;
  std::ofstream(dir.path("config.json")) << "{}";
  std::ofstream(dir.path("model.safetensors")) << "weights";
  const std::string expected = mp::sha256_hex("config.json " + mp::sha256_hex("{}") + "\nmodel.safetensors " +
                                              mp::sha256_hex("weights") + "\n");
  CHECK(mp::sha256_of_input(dir.root.string()) == expected);
  std::ofstream(dir.path("manifest.json")) << "{\"run\": 1}";
  std::ofstream(dir.path("metrics.jsonl")) << "{}";
  CHECK(mp::sha256_of_input(dir.root.string()) == expected);
  std::ofstream(dir.path("tokenizer.model")) << "t";
  CHECK(mp::sha256_of_input(dir.root.string()) != expected);
}

TEST_CASE("tokenize records provenance in HDF5 attributes and a manifest", "[provenance]") {
  const std::string tokenizer = mp::test::shared_path("models/stories260K/tokenizer.model");
  const std::string text = mp::test::shared_path("corpora/tinystories/calib.txt");
  mp::test::ScratchDir dir;
  const std::string out = dir.path("calib.h5");
  const auto r = run_modelpress("tokenize --tokenizer '" + tokenizer + "' --out '" + out + "' '" + text + "'");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const mp::h5::File h5 = mp::h5::File::open_read(out);
  CHECK(h5.string_attribute("modelpress.version") == mp::version());
  // Inputs relative to the working directory, no output path: the file does not carry the builder's paths.
  const auto relative = [](const std::string& p) { return fs::path(p).lexically_relative(fs::current_path()).generic_string(); };
  CHECK(h5.string_attribute("modelpress.command") ==
        mp::shell_command_line({"modelpress", "tokenize", "--tokenizer", relative(tokenizer), relative(text)}));
  CHECK(h5.string_attribute("modelpress.input.tokenizer.sha256") == mp::sha256_file(tokenizer));
  CHECK(h5.string_attribute("modelpress.input.text.0.sha256") == mp::sha256_file(text));
  const nlohmann::json manifest = read_json(out + ".manifest.json");
  check_manifest_lists(manifest, {{"calib.h5", out}});
  CHECK(manifest["inputs"]["text.0"]["sha256"] == mp::sha256_file(text));
}

TEST_CASE("export records provenance in GGUF general.modelpress.* keys and a manifest", "[provenance]") {
  const std::string model = mp::test::shared_path("models/stories260K");
  mp::test::ScratchDir dir;
  const std::string out = dir.path("model.gguf");
  const auto r = run_modelpress("export --to gguf --type Q8_0 --quiet --model '" + model + "' -o '" + out + "'");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const mp::GgufFile gguf(out);
  auto value_of = [&](const std::string& key) -> std::string {
    for (const auto& [k, v] : gguf.metadata())
      if (k == key) return v.as_string();
    FAIL("no key " << key);
    return "";
  };
  CHECK(value_of("general.modelpress.version") == mp::version());
  CHECK(value_of("general.modelpress.commit") == mp::git_commit());
  CHECK(value_of("general.modelpress.command") ==
        mp::shell_command_line({"modelpress", "export", "--to", "gguf", "--type", "Q8_0", "--model",
                                fs::path(model).lexically_relative(fs::current_path()).generic_string()}));
  CHECK(value_of("general.modelpress.input.model.sha256") == mp::sha256_of_input(model));
  check_manifest_lists(read_json(out + ".manifest.json"), {{"model.gguf", out}});
}

TEST_CASE("export --provenance manifest keeps the record only in the manifest", "[provenance]") {
  const std::string model = mp::test::shared_path("models/stories260K");
  mp::test::ScratchDir dir;
  const std::string in_file = dir.path("keys.gguf"), out = dir.path("model.gguf");
  const std::string command = "export --to gguf --type Q8_0 --quiet --model '" + model + "' -o ";
  REQUIRE(run_modelpress(command + "'" + in_file + "'").exit_code == 0);
  const auto r = run_modelpress(command + "'" + out + "' --provenance manifest");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  // The same keys but general.modelpress.*, the same tensor data: the header is llama.cpp's own.
  std::vector<std::string> expected, keys;
  const mp::GgufFile with_keys(in_file), without_keys(out);
  for (const auto& [k, v] : with_keys.metadata())
    if (k.rfind("general.modelpress.", 0) != 0) expected.push_back(k);
  for (const auto& [k, v] : without_keys.metadata()) keys.push_back(k);
  CHECK(keys == expected);
  CHECK(fs::file_size(out) < fs::file_size(in_file));
  const nlohmann::json manifest = read_json(out + ".manifest.json");
  check_manifest_lists(manifest, {{"model.gguf", out}});
  CHECK(manifest["inputs"]["model"]["sha256"] == mp::sha256_of_input(model));
  // A stream has no manifest: refused rather than written without any record.
  const auto streamed = run_modelpress(command + "- --provenance manifest");
  CHECK(streamed.exit_code == 3);
  CHECK(streamed.err.find("--provenance: 'manifest' needs a file output") != std::string::npos);
}

TEST_CASE("quantize records provenance in safetensors metadata and manifest.json", "[provenance]") {
  const std::string model = mp::test::shared_path("models/stories260K");
  const std::string calib = mp::test::shared_path("corpora/tinystories/calib.txt");
  mp::test::ScratchDir dir;
  const std::string out = dir.path("rtn");
  const auto r = run_modelpress("quantize --method rtn --bits 4 --group-size 32 --threads 1 --quiet --nsamples 4 "
                                "--seqlen 64 --seed 7 --model '" + model + "' --calib '" + calib + "' --out '" + out + "'");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& e : fs::recursive_directory_iterator(out))
    if (e.is_regular_file() && e.path().filename() != "manifest.json")
      files.emplace_back(fs::relative(e.path(), out).generic_string(), e.path().string());
  const nlohmann::json manifest = read_json(out + "/manifest.json");
  check_manifest_lists(manifest, files);
  CHECK(manifest["seed"] == 7);
  CHECK(manifest["inputs"]["calibration"]["sha256"] == mp::sha256_file(calib));

  int shards = 0;
  for (const auto& [name, path] : files) {
    if (fs::path(name).extension() != ".safetensors") continue;
    ++shards;
    const mp::SafetensorsFile st(path);
    INFO(name);
    CHECK(st.metadata().at("format") == "pt");
    CHECK(st.metadata().at("modelpress.commit") == mp::git_commit());
    CHECK(st.metadata().at("modelpress.seed") == "7");
    CHECK(st.metadata().at("modelpress.input.model.sha256") == mp::sha256_of_input(model));
    CHECK(st.metadata().at("modelpress.input.calibration.sha256") == mp::sha256_file(calib));
    CHECK(st.metadata().at("modelpress.command").rfind("modelpress quantize --method rtn", 0) == 0);
  }
  CHECK(shards >= 2);
}
