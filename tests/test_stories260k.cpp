// The reference model against what llama.cpp and a plain PyTorch implementation measured
// (../shared/README.md): greedy continuation, top-5 logits, perplexity, and eval --reference.
#include "lib/runtime/generate.h"
#include "lib/eval/perplexity.h"
#include "lib/runtime/runtime.h"
#include "tests/test_support.h"

using namespace mp;

TEST_CASE("stories260K: greedy continuation and top-5 logits match the reference", "[stories260k]") {
  LlamaModel model(open_model(test::shared_path("models/stories260K")), RuntimeOptions{});
  auto prompt = model.source().tokenizer().encode("Once upon a time", true);
  REQUIRE(prompt == std::vector<int32_t>{1, 403, 407, 261, 378});
  SamplingOptions greedy;
  greedy.max_new_tokens = 48;
  Generation g = generate(model, prompt, greedy);
  CHECK(g.new_tokens == std::vector<int32_t>{432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338,
                                             401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282,
                                             295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352,
                                             266, 268, 388, 426, 338, 391, 266, 267, 337, 335, 312, 432});
  CHECK(model.source().tokenizer().decode(g.new_tokens) ==
        ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw "
        "a big, red ball. She wanted to play with it,");
  at::Tensor values, ids;
  std::tie(values, ids) = g.prompt_logits.topk(5);
  const std::vector<std::pair<int64_t, double>> expected = {
      {432, 17.7994}, {383, 14.2813}, {322, 9.7097}, {353, 9.5873}, {323, 9.1342}};
  for (int i = 0; i < 5; ++i) {
    CHECK(ids[i].item<int64_t>() == expected[i].first);
    CHECK(std::abs(values[i].item<double>() - expected[i].second) < 1e-3);
  }
}

TEST_CASE("stories260K: sampling is reproducible from its seed", "[stories260k]") {
  LlamaModel model(open_model(test::shared_path("models/stories260K")), RuntimeOptions{});
  auto prompt = model.source().tokenizer().encode("Once upon a time", true);
  SamplingOptions sampled;
  sampled.temperature = 1.0;
  sampled.max_new_tokens = 32;
  sampled.seed = 11;
  auto a = generate(model, prompt, sampled).new_tokens;
  CHECK(generate(model, prompt, sampled).new_tokens == a);
  sampled.seed = 12;
  CHECK(generate(model, prompt, sampled).new_tokens != a);
}

TEST_CASE("stories260K: perplexity on eval.txt is llama.cpp's 4.6630 over 1151 chunks", "[stories260k][ppl]") {
  apply_runtime_settings(RuntimeSettings{1, "cpu", "f32", true});  // one thread: robust on a busy machine
  LlamaModel model(open_model(test::shared_path("models/stories260K")), RuntimeOptions{});
  auto tokens = model.source().tokenizer().encode(read_text_file(test::shared_path("corpora/tinystories/eval.txt")), true);
  PerplexityOptions options;
  options.ctx = 256;
  options.chunks_per_batch = 8;
  PerplexityReport r = evaluate_perplexity(model, tokens, options);
  CHECK(r.chunks == 1151);
  CHECK(r.tokens_scored == 1151 * 127);
  CHECK(std::abs(r.ppl - 4.6630) <= 0.0005);
  CHECK(r.running_ppl.size() == 1151);
  CHECK(r.running_ppl.back() == r.ppl);
}

TEST_CASE("stories260K: eval --reference against itself reports KLD 0 and 100% same top-1", "[stories260k][cli]") {
  const std::string m = test::shared_path("models/stories260K");
  auto r = test::run_modelpress("eval -q --json --ctx 256 --chunks 20 -m '" + m + "' --reference '" + m + "' -f '" +
                                test::shared_path("corpora/tinystories/eval.txt") + "'");
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["chunks"] == 20);
  CHECK(j["reference"]["kld_mean"].get<double>() == Approx(0).margin(1e-9));
  CHECK(j["reference"]["kld_max"].get<double>() == Approx(0).margin(1e-9));
  CHECK(j["reference"]["same_top1_percent"].get<double>() == 100.0);
  CHECK(j["reference"]["ppl_delta"].get<double>() == Approx(0).margin(1e-9));
  CHECK(j["ppl"].get<double>() == j["reference"]["ppl"].get<double>());
}

TEST_CASE("eval: KL statistics against a different model are positive and consistent", "[stories260k][cli]") {
  test::ScratchDir dir;
  auto config = test::tiny_config("llama");
  test::write_random_model(dir.path("a"), config, 1);
  test::write_random_model(dir.path("b"), config, 2);
  for (const char* d : {"a", "b"})
    std::filesystem::copy_file(test::shared_path("models/stories260K/tokenizer.model"), dir.path(d) + "/tokenizer.model");
  auto r = test::run_modelpress("eval -q --json --ctx 64 --chunks 4 -m '" + dir.path("a") + "' --reference '" +
                                dir.path("b") + "' -f '" + test::shared_path("corpora/tinystories/eval.txt") + "'");
  REQUIRE(r.exit_code == 0);
  auto ref = nlohmann::json::parse(r.out)["reference"];
  CHECK(ref["kld_mean"].get<double>() > 0.1);
  CHECK(ref["kld_min"].get<double>() <= ref["kld_median"].get<double>());
  CHECK(ref["kld_median"].get<double>() <= ref["kld_p99"].get<double>());
  CHECK(ref["kld_p99"].get<double>() <= ref["kld_max"].get<double>());
  CHECK(ref["same_top1_percent"].get<double>() < 100.0);
}

TEST_CASE("eval and generate: bad input gives one line and exit code 3", "[cli]") {
  const std::string m = test::shared_path("models/stories260K");
  auto r = test::run_modelpress("eval -m '" + m + "' -f /nonexistent/text.txt");
  CHECK(r.exit_code == 3);
  CHECK(r.err == "modelpress: error: /nonexistent/text.txt: cannot open\n");
  r = test::run_modelpress("eval -m '" + m + "' -f /dev/null --ctx 256");
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("fewer than one chunk") != std::string::npos);
  r = test::run_modelpress("eval -m '" + m + "' -f /dev/null --ctx 100000");
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("max_position_embeddings") != std::string::npos);
  r = test::run_modelpress("generate -m '" + m + "' --device cuda");
  CHECK(r.exit_code == (at::hasCUDA() ? 0 : 3));
  r = test::run_modelpress("eval --bogus-flag");
  CHECK(r.exit_code == 2);
  for (const char* tool : {"eval", "generate", "inspect"}) {
    r = test::run_modelpress(std::string(tool) + " --help");
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("--") != std::string::npos);
  }
}
