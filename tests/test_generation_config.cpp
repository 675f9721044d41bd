// generation_config.json as released beside config.json: its end tokens (an id or a list) join
// config.json's, `generate` stops at any of them, and malformed ones are bad input.
#include <filesystem>

#include "formats/generation_config.h"
#include "lib/base/atomic_output.h"
#include "lib/base/error.h"
#include "lib/runtime/generate.h"
#include "lib/runtime/runtime.h"
#include "tests/test_support.h"

using namespace mp;
namespace fs = std::filesystem;

namespace {

ModelConfig config_with_eos(const nlohmann::json& eos) {
  nlohmann::json c = test::tiny_config("llama");
  c["eos_token_id"] = eos;
  return ModelConfig::from_json(c, "config.json");
}

void write_generation_config(const test::ScratchDir& dir, const std::string& text) {
  write_file_atomically(dir.path("generation_config.json"), text);
}

// A copy of stories260K, named `name`, whose generation_config.json lists `eos`.
std::string stories_with_generation_config(const test::ScratchDir& dir, const std::string& name, const std::string& eos) {
  const fs::path model = dir.path(name);
  fs::copy(test::shared_path("models/stories260K"), model);
  write_file_atomically((model / "generation_config.json").string(), "{\"eos_token_id\": " + eos + "}");
  return model.string();
}

}  // namespace

TEST_CASE("generation_config: its end tokens follow config.json's, an id or a list", "[generation_config]") {
  test::ScratchDir dir;
  CHECK(end_tokens(config_with_eos(2), dir.path()) == std::vector<int64_t>{2});
  CHECK(end_tokens(config_with_eos({2, 5}), dir.path()) == std::vector<int64_t>{2, 5});
  write_generation_config(dir, R"({"eos_token_id": 9, "temperature": 0.6, "top_p": 0.9})");
  CHECK(end_tokens(config_with_eos(2), dir.path()) == std::vector<int64_t>{2, 9});
  write_generation_config(dir, R"({"eos_token_id": [5, 9, 2]})");
  CHECK(end_tokens(config_with_eos({2, 5}), dir.path()) == std::vector<int64_t>{2, 5, 9});
  const GenerationConfig sampling = [&] {
    write_generation_config(dir, R"({"temperature": 0.6, "top_p": 0.9, "top_k": 50})");
    return read_generation_config(dir.path());
  }();
  CHECK(sampling.eos_token_ids.empty());
  CHECK(sampling.temperature == 0.6);
  CHECK(sampling.top_p == 0.9);
  CHECK(sampling.top_k == 50);
  CHECK_FALSE(sampling.min_p.has_value());
}

TEST_CASE("generation_config: malformed end tokens are bad input naming the file", "[generation_config]") {
  test::ScratchDir dir;
  const std::string path = dir.path("generation_config.json");
  for (const char* text : {R"({"eos_token_id": []})", R"({"eos_token_id": "</s>"})", R"({"eos_token_id": [1, -3]})",
                           R"({"eos_token_id": [1.5]})", R"([1, 2])", R"({"top_k": "many"})"}) {
    INFO(text);
    write_generation_config(dir, text);
    try {
      read_generation_config(dir.path());
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.code() == ExitCode::bad_input);
      CHECK(std::string(e.what()).rfind(path + ": ", 0) == 0);
    }
  }
}

TEST_CASE("generate: stops at an end token generation_config.json adds", "[generation_config][stories260k]") {
  // stories260K's greedy continuation of "Once upon a time" is 432 383 286 261 376 ... (test_stories260k);
  // its config.json's EOS (2) never comes, so only an added end token can stop it early.
  test::ScratchDir dir;
  const std::string model_dir = stories_with_generation_config(dir, "stories", "[2, 261]");
  LlamaModel model(open_model(model_dir), RuntimeOptions{});
  const auto prompt = model.source().tokenizer().encode("Once upon a time", true);
  SamplingOptions greedy;
  greedy.max_new_tokens = 8;
  CHECK(generate(model, prompt, greedy).new_tokens.size() == 8);
  greedy.end_tokens = end_tokens(model.config(), model_dir);
  REQUIRE(greedy.end_tokens == std::vector<int64_t>{2, 261});
  CHECK(generate(model, prompt, greedy).new_tokens == std::vector<int32_t>{432, 383, 286});

  auto r = test::run_modelpress("generate -q --ids -n 8 --dtype f32 -m '" + model_dir + "'");
  CHECK(r.exit_code == 0);
  CHECK(r.out.rfind("432 383 286", 0) == 0);
  CHECK(r.out.find("261") == std::string::npos);
  r = test::run_modelpress("generate -q --ids -n 8 --ignore-eos --dtype f32 -m '" + model_dir + "'");
  CHECK(r.out.rfind("432 383 286 261 376", 0) == 0);

  const std::string bad = stories_with_generation_config(dir, "bad", "\"</s>\"");
  r = test::run_modelpress("generate -q --ids -n 8 -m '" + bad + "'");
  CHECK(r.exit_code == 3);
}
