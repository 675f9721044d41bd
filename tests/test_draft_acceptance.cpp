// speculate's measurements against slow references computed here, and the bad-input rule for a
// draft whose vocabulary is not the target's (speculate and generate --draft: one line, exit 3).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "lib/eval/draft_acceptance.h"
#include "lib/runtime/model_source.h"
#include "lib/runtime/runtime.h"
#include "tests/test_support.h"

using namespace mp;
namespace fs = std::filesystem;

namespace {

// Next-token logits after every prefix of `chunk`, one whole-prefix forward each (no KV cache).
std::vector<std::vector<double>> prefix_logits(LlamaModel& model, const std::vector<int64_t>& chunk) {
  std::vector<std::vector<double>> rows;
  for (size_t end = 1; end <= chunk.size(); ++end) {
    const at::Tensor tokens = at::tensor(std::vector<int64_t>(chunk.begin(), chunk.begin() + end), at::kLong).unsqueeze(0);
    const at::Tensor last = model.forward(tokens)[0][-1].to(at::kDouble).contiguous();
    rows.emplace_back(last.data_ptr<double>(), last.data_ptr<double>() + last.numel());
  }
  return rows;
}

std::vector<double> softmax(const std::vector<double>& logits, double temperature) {
  double top = logits[0];
  for (double x : logits) top = std::max(top, x);
  std::vector<double> p;
  double sum = 0;
  for (double x : logits) sum += p.emplace_back(std::exp((x - top) / temperature));
  for (double& x : p) x /= sum;
  return p;
}

size_t argmax(const std::vector<double>& v) { return std::max_element(v.begin(), v.end()) - v.begin(); }

}  // namespace

TEST_CASE("speculate: greedy agreement and 1 - TV equal a per-prefix reference", "[speculative]") {
  apply_runtime_settings(RuntimeSettings{1, "cpu", "f32", true});
  test::ScratchDir dir;
  nlohmann::json config = test::tiny_config();
  config["vocab_size"] = 40;
  test::write_random_model(dir.path("target"), config, 31);
  config["num_hidden_layers"] = 1;
  test::write_random_model(dir.path("draft"), config, 32);
  LlamaModel target(open_model(dir.path("target")), RuntimeOptions{});
  LlamaModel draft(open_model(dir.path("draft")), RuntimeOptions{});

  std::vector<int32_t> text;
  for (int i = 0; i < 75; ++i) text.push_back((i * 7 + i / 5) % 40);
  AcceptanceOptions options;
  options.ctx = 32;  // two whole chunks; the last 11 tokens are left out
  options.chunk_start_token = 1;
  options.temperature = 0.8;
  options.timing_repeats = 3;
  const DraftAcceptance r = measure_draft_acceptance(target, draft, text, options);

  double agree = 0, accept = 0;
  int64_t positions = 0;
  for (int64_t start = 0; start + 32 <= 75; start += 32) {
    std::vector<int64_t> chunk(text.begin() + start, text.begin() + start + 32);
    chunk[0] = 1;
    const auto t = prefix_logits(target, chunk), d = prefix_logits(draft, chunk);
    for (size_t i = 0; i < chunk.size(); ++i, ++positions) {
      agree += argmax(t[i]) == argmax(d[i]);
      const auto p = softmax(t[i], 0.8), q = softmax(d[i], 0.8);
      for (size_t x = 0; x < p.size(); ++x) accept += std::min(p[x], q[x]);  // sum min(p, q) = 1 - TV
    }
  }
  CHECK(r.positions == 64);
  CHECK(positions == 64);
  CHECK(r.greedy_agreement == Approx(agree / 64).margin(1e-12));
  CHECK(r.sampled_acceptance == Approx(accept / 64).epsilon(1e-6));
  CHECK(r.sampled_acceptance > 0);
  CHECK(r.sampled_acceptance < 1);

  // The table against the i.i.d. model summed term by term: E = 1 + a + ... + a^k.
  REQUIRE(r.rows.size() == 8);
  CHECK(r.cost_ratio > 0);
  for (const SpeedupRow& row : r.rows) {
    double e = 0;
    for (int64_t i = 0; i <= row.k; ++i) e += std::pow(r.sampled_acceptance, static_cast<double>(i));
    CHECK(row.sampled_tokens_per_pass == Approx(e).epsilon(1e-12));
    CHECK(row.sampled_speedup == Approx(e / (row.k * r.cost_ratio + 1)).epsilon(1e-12));
    CHECK(row.verify_cost > 0);
  }
  CHECK(expected_tokens_per_pass(1.0, 4) == 5);
  CHECK(expected_tokens_per_pass(0.0, 4) == 1);
}

TEST_CASE("speculate and generate --draft: a draft with another vocabulary is one line and exit 3", "[speculative]") {
  test::ScratchDir dir;
  test::write_random_model(dir.path("target"), test::kquant_config(), 7);
  fs::copy_file(test::shared_path("models/stories260K/tokenizer.model"), dir.path("target/tokenizer.model"));
  nlohmann::json other = test::tiny_config();
  other["vocab_size"] = 300;
  test::write_random_model(dir.path("draft"), other, 8);
  const std::string target = "'" + dir.path("target") + "'", draft = "'" + dir.path("draft") + "'";
  const std::string text = test::shared_path("corpora/tinystories/eval.txt");
  for (const std::string& command :
       {"speculate --target " + target + " --draft " + draft + " --text '" + text + "' --threads 1",
        "generate --model " + target + " --draft " + draft + " -n 4 --threads 1"}) {
    CAPTURE(command);
    const auto r = test::run_modelpress(command);
    CHECK(r.exit_code == 3);
    CHECK(r.out.empty());
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.find(dir.path("draft")) != std::string::npos);
    CHECK(r.err.find("300 tokens") != std::string::npos);
  }
}

TEST_CASE("generate --draft: greedy text of stories260K is the same with and without a draft", "[speculative]") {
  test::ScratchDir dir;
  // A random draft with stories260K's vocabulary and tokenizer: mostly rejected, so the output is
  // the target's own corrections, and must still match.
  nlohmann::json config = test::tiny_config();
  config["num_hidden_layers"] = 1;
  test::write_random_model(dir.path("draft"), config, 5);
  fs::copy_file(test::shared_path("models/stories260K/tokenizer.model"), dir.path("draft/tokenizer.model"));
  const std::string model = test::shared_path("models/stories260K");
  const std::string common = "generate --model '" + model + "' --prompt 'Once upon a time' -n 48 --ids --threads 1 --dtype f32";
  const auto plain = test::run_modelpress(common);
  REQUIRE(plain.exit_code == 0);
  CHECK(plain.out.find("432 383 286 261 376 298 315 421") != std::string::npos);  // ../shared/README.md
  for (const std::string k : {"1", "3"}) {
    const auto drafted = test::run_modelpress(common + " --draft '" + dir.path("draft") + "' --draft-k " + k);
    REQUIRE(drafted.exit_code == 0);
    CHECK(drafted.out == plain.out);
    CHECK(drafted.err.find("drafted tokens accepted") != std::string::npos);
  }
  // A draft identical to the target is always accepted: 48 tokens in 48 / (k + 1) passes.
  const auto self = test::run_modelpress(common + " --draft '" + model + "' --draft-k 3 --json");
  REQUIRE(self.exit_code == 0);
  const auto j = nlohmann::json::parse(self.out);
  CHECK(j["speculative"]["accepted"] == 36);
  CHECK(j["speculative"]["target_passes"] == 12);
}
