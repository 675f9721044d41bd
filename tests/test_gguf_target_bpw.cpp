// Size-targeted GGUF mixes (--target-bpw / --target-size): the allocator against a brute-force
// optimum, and exports that fit their target, lose no more with more budget, and beat a fixed mix of
// the same size by the loss they minimise (the weight-space proxy here: no calibration text).
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "formats/gguf_file.h"
#include "formats/gguf_size_target.h"
#include "formats/gguf_type_allocation.h"
#include "tests/test_support.h"

using namespace mp;
namespace fs = std::filesystem;

namespace {

double loss_of(const std::vector<AllocatableTensor>& tensors, const std::vector<size_t>& choice) {
  double total = 0;
  for (size_t t = 0; t < tensors.size(); ++t) total += tensors[t].candidates[choice[t]].loss;
  return total;
}

uint64_t bytes_of(const std::vector<AllocatableTensor>& tensors, const std::vector<size_t>& choice) {
  uint64_t total = 0;
  for (size_t t = 0; t < tensors.size(); ++t) total += tensors[t].candidates[choice[t]].bytes;
  return total;
}

// Every combination: the optimum the allocator is measured against.
double brute_force_optimum(const std::vector<AllocatableTensor>& tensors, uint64_t room) {
  double best = std::numeric_limits<double>::infinity();
  std::vector<size_t> choice(tensors.size(), 0);
  for (;;) {
    if (bytes_of(tensors, choice) <= room) best = std::min(best, loss_of(tensors, choice));
    size_t t = 0;
    while (t < tensors.size() && ++choice[t] == tensors[t].candidates.size()) choice[t++] = 0;
    if (t == tensors.size()) return best;
  }
}

// k-quant-like candidates: more bytes, less loss, with each tensor's own scale and curvature.
std::vector<AllocatableTensor> random_problem(std::mt19937& rng, size_t n_tensors, size_t n_types) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<AllocatableTensor> tensors;
  for (size_t t = 0; t < n_tensors; ++t) {
    AllocatableTensor a{"t" + std::to_string(t), {}};
    const double size = 1 + 20 * u(rng), scale = std::pow(10.0, 3 * u(rng));
    for (size_t k = 0; k < n_types; ++k) {
      const double bits = 2.6 + k * (0.8 + 0.4 * u(rng));
      a.candidates.push_back({GgmlType::Q4_K, 32 * static_cast<uint64_t>(size * bits * 10),
                              scale * std::pow(2.0, -2 * bits) * (0.7 + 0.6 * u(rng))});
    }
    tensors.push_back(std::move(a));
  }
  return tensors;
}

struct TargetFixture {
  test::ScratchDir dir;
  std::string model = dir.path("model"), imatrix = dir.path("imatrix.gguf");
  std::string calib = test::shared_path("corpora/tinystories/calib.txt");
  TargetFixture() {
    test::write_random_model(model, test::kquant_config(), 11);  // 2 layers, untied output, 512 tokens
    fs::copy_file(test::shared_path("models/stories260K/tokenizer.model"), model + "/tokenizer.model");
    const auto r = test::run_modelpress("imatrix -q -t 1 -m '" + model + "' -f '" + calib + "' -o '" + imatrix +
                                        "' -c 32 --chunks 4");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
  }
  test::CommandResult export_gguf(const std::string& out, const std::string& options) const {
    return test::run_modelpress("export -q -t 1 --to gguf -m '" + model + "' -o '" + out + "' --imatrix '" + imatrix +
                                "' " + options);
  }
  GgufExportOptions options(uint64_t bytes) const {
    GgufExportOptions o;
    o.type = parse_gguf_export_type("Q4_K_M", false);
    o.imatrix = imatrix;
    o.target.bytes = bytes;
    return o;
  }
};

}  // namespace

// Candidate bytes are multiples of 32 here as in a GGUF file, so the programme over 32-byte units is
// exact: every problem's optimum, whatever the room.
TEST_CASE("allocate_types finds the brute-force optimum on small problems; never above the budget",
          "[target_bpw]") {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 300; ++trial) {
    const auto tensors = random_problem(rng, 6, 5);  // 5^6 = 15625 mixes
    uint64_t least = 0, most = 0;
    for (const auto& t : tensors) least += t.candidates.front().bytes, most += t.candidates.back().bytes;
    const uint64_t fixed = 4096;
    const uint64_t room = least + std::uniform_int_distribution<uint64_t>(0, most - least)(rng);
    const std::vector<size_t> choice = allocate_types(tensors, fixed, fixed + room);
    INFO("trial " << trial);
    REQUIRE(bytes_of(tensors, choice) <= room);
    CHECK(loss_of(tensors, choice) == Approx(brute_force_optimum(tensors, room)).epsilon(1e-12));
  }
}

TEST_CASE("allocate_types: the smallest mix when nothing else fits, the largest when everything does", "[target_bpw]") {
  std::mt19937 rng(9);
  const auto tensors = random_problem(rng, 4, 6);
  uint64_t least = 0, most = 0;
  for (const auto& t : tensors) least += t.candidates.front().bytes, most += t.candidates.back().bytes;
  CHECK(allocate_types(tensors, 100, 100 + least) == std::vector<size_t>(4, 0));
  CHECK(allocate_types(tensors, 100, 100 + most) == std::vector<size_t>(4, 5));
}

TEST_CASE("export --target-size: the file fits, more budget never loses more, and a fixed mix's size buys at "
          "least the mix's quality",
          "[target_bpw]") {
  TargetFixture f;
  // The Q4_K_M mix llama-quantize would write, and its proxy loss.
  const auto mix = f.export_gguf(f.dir.path("mix.gguf"), "--type Q4_K_M");
  INFO(mix.err);
  REQUIRE(mix.exit_code == 0);
  const uint64_t mix_bytes = fs::file_size(f.dir.path("mix.gguf"));
  const auto source = open_model(f.model);
  const SizeTargetProblem problem = size_target_problem(*source, f.options(mix_bytes));
  std::map<std::string, GgmlType> mix_types;
  const GgufFile mix_file(f.dir.path("mix.gguf"));
  for (const GgufTensorInfo& t : mix_file.tensors()) mix_types[t.name] = t.type;
  double mix_loss = 0;
  for (const AllocatableTensor& t : problem.tensors) {
    bool found = false;
    for (const TypeCandidate& c : t.candidates)
      if (c.type == mix_types.at(t.name)) mix_loss += c.loss, found = true;
    REQUIRE(found);
  }
  REQUIRE(problem.tensors.size() == 2 * 7 + 2);  // every linear, token_embd and output

  // At the mix's own size: no more bytes, no more proxy loss.
  const auto r = f.export_gguf(f.dir.path("target.gguf"), "--type Q4_K_M --json --target-size " + std::to_string(mix_bytes));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto summary = nlohmann::json::parse(r.out);
  CHECK(fs::file_size(f.dir.path("target.gguf")) <= mix_bytes);
  CHECK(summary["file_bytes"].get<uint64_t>() == fs::file_size(f.dir.path("target.gguf")));
  const double target_loss = summary["size_target"]["total_loss"].get<double>();
  CHECK(target_loss <= mix_loss);
  // The file holds the types the summary lists, and the shares add up to the whole.
  std::map<std::string, GgmlType> target_types;
  const GgufFile target_file(f.dir.path("target.gguf"));
  for (const GgufTensorInfo& t : target_file.tensors()) target_types[t.name] = t.type;
  double shares = 0;
  for (const auto& t : summary["size_target"]["tensors"]) {
    GgmlType type;
    REQUIRE(parse_ggml_type(t["type"].get<std::string>(), &type));
    CHECK(target_types.at(t["tensor"].get<std::string>()) == type);
    shares += t["loss_share"].get<double>();
  }
  CHECK(shares == Approx(1.0));
  CHECK(target_types.at("blk.0.attn_norm.weight") == GgmlType::F32);

  // More budget never increases the loss, and every budget is kept (the file counts header and padding).
  double previous = std::numeric_limits<double>::infinity();
  const uint64_t least = problem.smallest(), span = problem.f32_bytes - least;
  for (int step = 0; step <= 40; ++step) {
    const uint64_t budget = least + span * step / 40 / 3;  // smallest .. ~Q8_0
    const std::vector<size_t> choice = allocate_types(problem.tensors, problem.fixed_bytes, budget);
    CHECK(problem.fixed_bytes + bytes_of(problem.tensors, choice) <= budget);
    const double loss = loss_of(problem.tensors, choice);
    CHECK(loss <= previous);
    previous = loss;
  }

  // --target-bpw counts bits of the whole file per weight.
  const auto b = f.export_gguf(f.dir.path("bpw.gguf"), "--type Q3_K_M --json --target-bpw 3.9");
  INFO(b.err);
  REQUIRE(b.exit_code == 0);
  CHECK(8.0 * fs::file_size(f.dir.path("bpw.gguf")) <= 3.9 * problem.parameters);
  CHECK(8.0 * fs::file_size(f.dir.path("bpw.gguf")) > 3.7 * problem.parameters);
}

TEST_CASE("size targets: bad input is one line, exit 3", "[target_bpw][cli]") {
  TargetFixture f;
  const std::string out = f.dir.path("bad.gguf");
  const std::pair<std::string, std::string> bad[] = {
      {"--type Q4_K_M --target-size 1000", "--target-size: the target of 1000 bytes is below the smallest file"},
      {"--type Q4_K_M --target-bpw 40", "--target-bpw: the target of"},
      {"--type F16 --target-bpw 4", "--type: with --target-bpw"},
  };
  for (const auto& [options, message] : bad) {
    INFO(options);
    const auto r = f.export_gguf(out, options);
    CHECK(r.exit_code == 3);
    CHECK(r.err.find(message) != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK_FALSE(fs::exists(out));
  }
  const auto r = test::run_modelpress("export -q --to gguf --type Q4_K_M -m '" + f.model + "' -o '" + out +
                                      "' --target-bpw 4");
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("--target-bpw: needs an importance matrix") != std::string::npos);
  // One or the other.
  CHECK(f.export_gguf(out, "--type Q4_K_M --target-bpw 4 --target-size 100000").exit_code == 2);
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("quantize --method gptq --to gguf --target-size: the solved file fits and holds the allocated types",
          "[target_bpw]") {
  TargetFixture f;
  const std::string out = f.dir.path("gptq.gguf");
  const auto r = test::run_modelpress("quantize -q -t 1 -m '" + f.model + "' -o '" + out + "' --to gguf --type Q4_K_M "
                                      "--nsamples 4 --seqlen 32 --calib '" + f.calib + "' --imatrix '" + f.imatrix +
                                      "' --target-size 1400000");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(fs::file_size(out) <= 1400000);
  CHECK(r.err.find("size target: 1400000 bytes") != std::string::npos);
  CHECK(r.err.find("kl loss") != std::string::npos);
  // The types are the export's allocation for the same target and calibration windows (the KL losses
  // come from the unquantized model in both), and the linears on k-quant grids were written as GPTQ
  // solved them.
  const auto e = f.export_gguf(f.dir.path("export.gguf"), "--type Q4_K_M --target-size 1400000 --json --calib '" +
                                                              f.calib + "' --seqlen 32");
  INFO(e.err);
  REQUIRE(e.exit_code == 0);
  const auto summary = nlohmann::json::parse(e.out)["size_target"];
  CHECK(summary["loss_kind"] == "kl");
  CHECK(summary["mix_kl"].get<double>() > 0);
  std::map<std::string, std::string> solved, exported;
  const GgufFile solved_file(out), exported_file(f.dir.path("export.gguf"));
  for (const GgufTensorInfo& t : solved_file.tensors()) solved[t.name] = ggml_type_name(t.type);
  for (const GgufTensorInfo& t : exported_file.tensors()) exported[t.name] = ggml_type_name(t.type);
  CHECK(solved == exported);
  CHECK(r.err.find("lossless from GPTQ") != std::string::npos);
}
