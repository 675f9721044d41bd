// Speculative decoding (generate --draft): greedy output is the target's own greedy output, token
// for token, whatever the draft; sampled output has the target's distribution (a chi-square test
// against the target's exact two-token distribution, which the draft's own samples fail).
#include <catch2/catch.hpp>

#include <cmath>
#include <map>

#include "lib/runtime/generate.h"
#include "lib/runtime/model_source.h"
#include "lib/runtime/speculative.h"
#include "lib/runtime/runtime.h"
#include "tests/test_support.h"

using namespace mp;

namespace {

// A 2-layer target; the good draft shares its embeddings and first layer (same seed, one layer; with
// tied embeddings also its LM head), the bad draft is unrelated random weights. Untied, the LM head's
// smaller weights give flatter next-token distributions.
struct Models {
  test::ScratchDir dir;
  std::unique_ptr<LlamaModel> target, good_draft, bad_draft;

  Models(int64_t vocab, bool tied) {
    apply_runtime_settings(RuntimeSettings{1, "cpu", "f32", true});
    nlohmann::json config = test::tiny_config();
    config["vocab_size"] = vocab;
    config["tie_word_embeddings"] = tied;
    test::write_random_model(dir.path("target"), config, 21);
    nlohmann::json one_layer = config;
    one_layer["num_hidden_layers"] = 1;
    test::write_random_model(dir.path("good"), one_layer, 21);
    test::write_random_model(dir.path("bad"), config, 22);
    target = std::make_unique<LlamaModel>(open_model(dir.path("target")), RuntimeOptions{});
    good_draft = std::make_unique<LlamaModel>(open_model(dir.path("good")), RuntimeOptions{});
    bad_draft = std::make_unique<LlamaModel>(open_model(dir.path("bad")), RuntimeOptions{});
  }
};

// The target's exact distribution of its first two sampled tokens after `prompt`, from whole-sequence
// forwards without a KV cache: P(a, b) = p(a | prompt) p(b | prompt, a).
std::map<std::pair<int32_t, int32_t>, double> two_token_distribution(LlamaModel& model, std::vector<int32_t> prompt,
                                                                     const SamplingOptions& options) {
  auto next = [&](const std::vector<int32_t>& ids) {
    const at::Tensor tokens = at::tensor(std::vector<int64_t>(ids.begin(), ids.end()), at::kLong).unsqueeze(0);
    return sampling_distribution(model.forward(tokens)[0][-1], options);
  };
  std::map<std::pair<int32_t, int32_t>, double> joint;
  const at::Tensor first = next(prompt);
  for (int32_t a = 0; a < first.size(0); ++a) {
    const double pa = first[a].item<double>();
    if (pa == 0) continue;
    prompt.push_back(a);
    const at::Tensor second = next(prompt);
    prompt.pop_back();
    for (int32_t b = 0; b < second.size(0); ++b)
      if (second[b].item<double>() > 0) joint[{a, b}] = pa * second[b].item<double>();
  }
  return joint;
}

struct ChiSquare {
  double statistic = 0, critical = 0;
  int64_t cells = 0, outside = 0;  // samples where the target's probability is 0
};

// Pearson's chi-square of observed pairs against the exact distribution; cells expecting fewer than
// 5 samples are pooled into one. Critical value at p = 0.0005 (Wilson-Hilferty).
ChiSquare chi_square(const std::map<std::pair<int32_t, int32_t>, int64_t>& observed,
                     const std::map<std::pair<int32_t, int32_t>, double>& exact, int64_t samples) {
  ChiSquare r;
  double pooled_expected = 0, pooled_observed = 0;
  auto add = [&](double e, double o) {
    r.statistic += (o - e) * (o - e) / e;
    ++r.cells;
  };
  for (const auto& [cell, p] : exact) {
    const double e = p * samples;
    const auto it = observed.find(cell);
    const double o = it == observed.end() ? 0 : static_cast<double>(it->second);
    if (e < 5) {
      pooled_expected += e;
      pooled_observed += o;
    } else {
      add(e, o);
    }
  }
  for (const auto& [cell, count] : observed)
    if (!exact.count(cell)) r.outside += count;
  if (pooled_expected > 0) add(pooled_expected, pooled_observed);
  const double df = static_cast<double>(r.cells - 1), z = 3.29;
  r.critical = df * std::pow(1 - 2 / (9 * df) + z * std::sqrt(2 / (9 * df)), 3);
  return r;
}

}  // namespace

TEST_CASE("speculative: greedy output equals the target's own greedy output, for any draft and k", "[speculative]") {
  Models m(512, true);
  SamplingOptions greedy;
  greedy.max_new_tokens = 24;
  greedy.stop_at_eos = false;
  const std::vector<std::vector<int32_t>> prompts = {{1}, {1, 17, 300, 4}, {1, 99, 98, 97, 96, 95, 94, 93, 92, 91, 90, 7}};
  int64_t good_accepted = 0, bad_accepted = 0, drafted = 0;
  for (const auto& prompt : prompts) {
    const std::vector<int32_t> expected = generate(*m.target, prompt, greedy).new_tokens;
    REQUIRE(expected.size() == 24);
    for (int64_t k = 1; k <= 4; ++k) {
      CAPTURE(prompt.size(), k);
      const SpeculativeGeneration good = generate_speculative(*m.target, *m.good_draft, prompt, greedy, k);
      const SpeculativeGeneration bad = generate_speculative(*m.target, *m.bad_draft, prompt, greedy, k);
      CHECK(good.generation.new_tokens == expected);
      CHECK(bad.generation.new_tokens == expected);
      // Each pass commits its accepted tokens plus one of the target's.
      CHECK(good.accepted + good.target_passes == 24);
      CHECK(bad.accepted + bad.target_passes == 24);
      good_accepted += good.accepted;
      bad_accepted += bad.accepted;
      drafted += good.drafted;
    }
  }
  // The good draft is accepted more often, so the rollback after rejections (which the bad draft
  // forces nearly every round) and whole accepted runs are both exercised.
  CHECK(good_accepted > bad_accepted);
  CHECK(good_accepted < drafted);
  CHECK(bad_accepted < drafted / 2);
}

TEST_CASE("speculative: the output ends at an end token and at the context, as plain generation does", "[speculative]") {
  Models m(512, true);
  SamplingOptions greedy;
  greedy.max_new_tokens = 200;
  greedy.stop_at_eos = false;
  const std::vector<int32_t> prompt = {1, 5, 6};
  const std::vector<int32_t> plain = generate(*m.target, prompt, greedy).new_tokens;
  CHECK(plain.size() == 128 - prompt.size());  // tiny_config's context is 128
  CHECK(generate_speculative(*m.target, *m.bad_draft, prompt, greedy, 4).generation.new_tokens == plain);
  // The 10th greedy token as the end token: both stop before it.
  greedy.stop_at_eos = true;
  greedy.end_tokens = {plain[9]};
  const std::vector<int32_t> ended = generate(*m.target, prompt, greedy).new_tokens;
  REQUIRE(ended.size() <= 9);
  CHECK(generate_speculative(*m.target, *m.good_draft, prompt, greedy, 3).generation.new_tokens == ended);
}

TEST_CASE("speculative: sampled tokens have the target's distribution", "[speculative]") {
  Models m(12, false);
  const std::vector<int32_t> prompt = {1, 7, 3};
  SamplingOptions full;
  full.temperature = 1, full.top_k = 0, full.top_p = 1;
  SamplingOptions shaped;
  shaped.temperature = 0.7, shaped.top_k = 6, shaped.top_p = 0.9;
  for (SamplingOptions options : {full, shaped}) {
    CAPTURE(options.temperature, options.top_k, options.top_p);
    options.max_new_tokens = 4;  // the first round drafts k = 3; the first two tokens are tested
    options.stop_at_eos = false;
    const auto exact = two_token_distribution(*m.target, prompt, options);
    const int64_t samples = 2000;
    std::map<std::pair<int32_t, int32_t>, int64_t> speculative, draft_alone;
    for (int64_t seed = 0; seed < samples; ++seed) {
      options.seed = static_cast<uint64_t>(seed);
      const auto s = generate_speculative(*m.target, *m.bad_draft, prompt, options, 3).generation.new_tokens;
      ++speculative[{s[0], s[1]}];
      const auto d = generate(*m.bad_draft, prompt, options).new_tokens;
      ++draft_alone[{d[0], d[1]}];
    }
    const ChiSquare fit = chi_square(speculative, exact, samples);
    CAPTURE(fit.statistic, fit.critical, fit.cells);
    CHECK(fit.cells >= 8);  // top-k 6, top-p 0.9 at T = 0.7 leave about 9
    CHECK(fit.outside == 0);
    CHECK(fit.statistic < fit.critical);
    // The test has power: the draft's own samples, the distribution speculation starts from, fail it.
    const ChiSquare control = chi_square(draft_alone, exact, samples);
    CAPTURE(control.statistic, control.critical);
    CHECK((control.statistic > control.critical || control.outside > 0));
  }
}
