// quantize --to gguf stages each solved layer on disk (formats/gguf_sink.h): a run stopped after a
// layer (as if killed) and resumed writes the bytes of an uninterrupted run, a resume with another
// request is refused and leaves the staging as it was, and the file's solved tensors decode to
// exactly the weights the quantizer computed.
#include <algorithm>
#include <filesystem>
#include <map>

#include "formats/gguf_sink.h"
#include "lib/base/sha256.h"
#include "lib/runtime/gguf_model_source.h"
#include "lib/runtime/hf_model_source.h"
#include "quant/quantize_model.h"
#include "tests/test_support.h"
#include "tests/tree_hash.h"

using namespace mp;
namespace fs = std::filesystem;

namespace {

// Every run writes the same output path: the command line is part of what the file records.
struct GgufFixture {
  test::ScratchDir dir;
  std::string model = dir.path("model"), out = dir.path("out.gguf"), staging = dir.path(".out.gguf.layers.resumable");
  std::string calib = test::shared_path("corpora/tinystories/calib.txt");
  GgufFixture() { write_model(model, 7); }
  void write_model(const std::string& path, uint64_t seed, bool tied = false) const {
    auto config = test::kquant_config();
    config["num_hidden_layers"] = 3;
    config["tie_word_embeddings"] = tied;
    test::write_random_model(path, config, seed);
    fs::copy_file(test::shared_path("models/stories260K/tokenizer.model"), path + "/tokenizer.model");
  }
  test::CommandResult quantize(const std::string& options, const std::string& model_path = "") const {
    return test::run_modelpress("quantize -q -t 1 -m '" + (model_path.empty() ? model : model_path) + "' -o '" + out +
                                "' --to gguf --nsamples 4 --seqlen 32 --calib '" + calib + "' " + options);
  }
  // No file but the output's own beside it: no staging, no temporaries, no lock.
  std::vector<std::string> leftovers() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir.path()))
      if (e.path().filename().string().rfind(".out.gguf", 0) == 0) names.push_back(e.path().filename().string());
    return names;
  }
};

}  // namespace

TEST_CASE("quantize --to gguf --resume after --stop-after-layer writes the bytes of an uninterrupted run",
          "[gguf_sink][resume]") {
  GgufFixture f;
  for (const char* method : {"--method gptq --type Q4_K_M", "--method awq --then gptq --grid 4 --type Q3_K_M"}) {
    DYNAMIC_SECTION(method) {
      auto r = f.quantize(method);
      INFO(r.err);
      REQUIRE(r.exit_code == 0);
      CHECK(f.leftovers().empty());
      const std::string uninterrupted = sha256_file(f.out);
      fs::remove(f.out);
      for (int stop : {0, 1, 3}) {  // 3: after the output stage, before the file is written
        r = f.quantize(std::string(method) + " --stop-after-layer " + std::to_string(stop));
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        CHECK_FALSE(fs::exists(f.out));
        REQUIRE(fs::exists(f.staging + "/progress.json"));
        CHECK(fs::exists(f.staging + "/model-0000" + std::to_string(stop + 1) + "-of-00004.safetensors"));
        r = f.quantize(std::string(method) + " --resume");
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        CHECK(r.err.find(stop == 3 ? std::string("all 3 layers and the output stage were finished")
                                   : std::to_string(stop + 1) + " of 3 layers were finished") != std::string::npos);
        CHECK(f.leftovers().empty());
        CHECK(sha256_file(f.out) == uninterrupted);
        fs::remove(f.out);
      }
    }
  }
}

TEST_CASE("quantize --to gguf --resume refuses another type, imatrix, method or model", "[gguf_sink][resume]") {
  GgufFixture f;
  const std::string imatrix = f.dir.path("imatrix.dat");
  REQUIRE(test::run_modelpress("imatrix -q -t 1 -m '" + f.model + "' -f '" + f.calib + "' -o '" + imatrix +
                               "' -c 32 --chunks 4")
              .exit_code == 0);
  const std::string other_model = f.dir.path("other");
  f.write_model(other_model, 8);
  REQUIRE(f.quantize("--method gptq --type Q4_K_M --stop-after-layer 0").exit_code == 0);
  const auto staged = test::hash_tree(f.staging);
  REQUIRE(staged.count("progress.json"));
  const std::pair<std::string, std::string> changes[] = {{"--method gptq --type Q5_K_M", ""},
                                                         {"--method gptq --type Q4_K_M --imatrix '" + imatrix + "'", ""},
                                                         {"--method awq --then gptq --type Q4_K_M", ""},
                                                         {"--method gptq --type Q4_K_M", other_model}};
  for (const auto& [changed, model] : changes) {
    INFO(changed << " " << model);
    auto r = f.quantize(changed + " --resume", model);
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("progress.json: the interrupted run had ") != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK_FALSE(fs::exists(f.out));
    CHECK(test::hash_tree(f.staging) == staged);  // a refused resume leaves the finished layers alone
  }
}

namespace {

// Records the weights the quantizer measured for each linear it hands over.
class RecordingGgufSink : public GgufSink {
 public:
  using GgufSink::GgufSink;
  void add_linear(int64_t index, const std::string& suffix, const QuantizedLinear& q) override {
    measured[hf_names::layer(index, suffix) + ".weight"] = q.dequantize();
    GgufSink::add_linear(index, suffix, q);
  }
  void add_output_linear(const std::string& module, const QuantizedLinear& q) override {
    measured[module + ".weight"] = q.dequantize();
    GgufSink::add_output_linear(module, q);
  }
  std::map<std::string, at::Tensor> measured;
};

}  // namespace

// Q4_K_M, and the legacy and iq4 mixes, whose every linear and both ends are now solved on their
// block types, with tied and untied embeddings.
TEST_CASE("quantize --to gguf: the staged layers and the output stage reach the file as solved, bit for bit",
          "[gguf_sink][gguf_block_grid][output]") {
  const bool tied = GENERATE(false, true);
  for (const char* type : {"Q4_K_M", "Q4_0", "Q5_1", "Q8_0", "IQ4_NL", "IQ4_XS"}) {
    DYNAMIC_SECTION(type << (tied ? ", tied" : ", untied") << " embeddings") {
      GgufFixture f;
      if (tied) {
        fs::remove_all(f.model);
        f.write_model(f.model, 7, /*tied=*/true);
      }
      const HfModelSource source(f.model);
      GgufExportOptions options;
      options.type = parse_gguf_export_type(type, false);
      QuantizePlan plan;
      plan.calibration.file = f.calib;
      plan.calibration.samples = 4;
      plan.calibration.seqlen = 32;
      plan.module_grids = gguf_module_grids(source.config(), options);
      plan.gptq.hessian_importance = true;
      plan.calibrate_output = true;
      GgufExportSummary summary;
      std::map<std::string, at::Tensor> measured;
      {
        RecordingGgufSink sink(f.out, source.config(), plan, options);
        quantize_model(source, plan, {}, sink);
        // The file is written and the staging about to go: a kill now (CI's kill9 found one while
        // it was being deleted) must leave no progress record for --resume to trust.
        CHECK(fs::exists(f.out));
        CHECK(fs::is_directory(f.staging));
        CHECK_FALSE(fs::exists(f.staging + "/progress.json"));
        summary = sink.summary();
        measured = sink.measured;
      }
      CHECK(f.leftovers().empty());
      // Every linear of the 256-wide model has a block grid, and so have its ends: the output
      // matrix (the tied embedding is it) and an untied token_embd.
      REQUIRE(measured.size() == 3 * 7 + (tied ? 1 : 2));
      REQUIRE(measured.count(tied ? "model.embed_tokens.weight" : "lm_head.weight"));
      REQUIRE(summary.code_origins.size() == measured.size());
      for (const auto& origin : summary.code_origins) {
        INFO(origin.tensor << ": " << origin.why_not);
        CHECK(origin.kept_codes);
      }
      const GgufModelSource file(f.out);  // modelpress reads the file back
      for (const auto& [name, weight] : measured) {
        INFO(name);
        CHECK(at::equal(file.tensor(name), weight));
      }
    }
  }
}
