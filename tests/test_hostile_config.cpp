// config.json as a mutation run broke it: every tool that reads a model refuses it with exit code 3
// and one line naming config.json and the field, before any output exists.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "lib/base/version.h"
#include "tests/hostile_inputs.h"

using mp::test::quoted;

namespace {

// The tools that open a model, each writing (when it writes) under `out_dir`.
std::vector<std::string> model_commands(const std::string& model, const std::string& out_dir) {
  const std::string text = mp::test::shared_path("corpora/tinystories/eval.txt");
  return {"eval -q -m " + quoted(model) + " -f " + quoted(text) + " --ctx 64 --chunks 1 --threads 1",
          "generate -m " + quoted(model) + " -n 2 --threads 1",
          "export -q -m " + quoted(model) + " -o " + quoted(out_dir + "/out.gguf"),
          "quantize --method rtn -m " + quoted(model) + " -o " + quoted(out_dir + "/q") + " --threads 1",
          "inspect " + quoted(model)};
}

// Every model command refuses `model` naming its config.json and `field`, and writes nothing.
void require_every_tool_refuses(const std::string& model, const std::string& field, const std::string& out_dir) {
  for (const std::string& command : model_commands(model, out_dir)) {
    INFO(command);
    mp::test::require_bad_input(mp::test::run_modelpress(command), "config.json", field);
  }
  mp::test::require_no_output(out_dir, "out.gguf");
  mp::test::require_no_output(out_dir, "q");
}

}  // namespace

TEST_CASE("hostile config: a value nested 70,000 arrays deep is refused, not a stack overflow", "[hostile]") {
  mp::test::ScratchDir dir;
  const std::string model = mp::test::stories_with_config_text(dir.path("m"), mp::test::deeply_nested_json(70000));
  require_every_tool_refuses(model, "nested deeper than", dir.path());
}

TEST_CASE("hostile config: counts out of range are refused at parse time", "[hostile]") {
  const std::vector<std::pair<std::string, nlohmann::json>> broken = {
      {"num_attention_heads", int64_t{1} << 32},  // was SIGFPE in export
      {"num_attention_heads", 1000000000},
      {"num_hidden_layers", 1000000000},  // was 3.3 GB, then std::bad_alloc
      {"hidden_size", 0},
      {"num_key_value_heads", 3},  // 8 heads are not a multiple of it
      {"vocab_size", -5},
      {"bos_token_id", 512},  // one past the vocabulary: was a LibTorch stack trace
      {"eos_token_id", nlohmann::json::array()},
      {"rms_norm_eps", -1.0},
      {"max_position_embeddings", 1e30},
  };
  for (const auto& [field, value] : broken) {
    INFO(field << " = " << value.dump());
    mp::test::ScratchDir dir;
    const std::string model = mp::test::stories_with_config(dir.path("m"), [&](nlohmann::json& c) { c[field] = value; });
    require_every_tool_refuses(model, field, dir.path());
  }
}

TEST_CASE("hostile config: a linear rope_scaling does not skip the range checks", "[hostile]") {
  const nlohmann::json linear = {{"rope_type", "linear"}, {"factor", 2.0}};
  const std::vector<std::pair<std::string, nlohmann::json>> broken = {
      {"bos_token_id", 512}, {"rms_norm_eps", -1.0}, {"rope_scaling", {{"rope_type", "linear"}, {"factor", -2.0}}}};
  for (const auto& [field, value] : broken) {
    INFO(field << " = " << value.dump());
    mp::test::ScratchDir dir;
    const std::string model = mp::test::stories_with_config(dir.path("m"), [&](nlohmann::json& c) {
      c["rope_scaling"] = linear;
      c[field] = value;
    });
    mp::test::require_bad_input(mp::test::run_modelpress("inspect " + quoted(model)), "config.json", field);
  }
}

TEST_CASE("hostile config: quantization_config of the wrong type is bad input, not a JSON library error", "[hostile]") {
  const nlohmann::json gptq = {{"quant_method", "gptq"}, {"bits", 4}, {"group_size", 32}};
  auto with = [&](const std::string& key, const nlohmann::json& value) {
    nlohmann::json qc = gptq;
    qc[key] = value;
    return qc;
  };
  const std::vector<nlohmann::json> broken = {
      "gptq", {{"quant_method", 1}}, {{"quant_method", "gptq"}, {"bits", "4"}},
      // fuzz_quantized_checkpoint: std::regex_error and nlohmann's type_error reached the top
      with("dynamic", {{"+:(", nlohmann::json::object()}}), with("dynamic", {{"+:q_proj", 4}}),
      with("dynamic", {{"+:q_proj", {{"bits", 5}}}}), with("dynamic", {{"+:q_proj", {{"group_size", "32"}}}}),
      with("dynamic", {{"q_proj", nlohmann::json::object()}}), with("dynamic", "x"), with("group_size", 0),
      // fuzz_quantized_checkpoint, 10M-run: a float too large for an integer reached nlohmann's cast
      with("group_size", 3.9e126), with("bits", int64_t{4294967298}),
      {{"quant_method", "awq"}, {"bits", 4}, {"group_size", 1e300}}, {{"quant_method", "awq"}, {"w_bit", 4.5}},
      // ... and a repeat count libstdc++'s regex compiler reads into a long unchecked
      with("dynamic", {{"-:y{99999999999999999999}", nlohmann::json::object()}})};
  for (const auto& qc : broken) {
    INFO(qc.dump());
    mp::test::ScratchDir dir;
    const std::string model =
        mp::test::stories_with_config(dir.path("m"), [&](nlohmann::json& c) { c["quantization_config"] = qc; });
    mp::test::require_bad_input(
        mp::test::run_modelpress("eval -q -m " + quoted(model) + " -f " +
                                 quoted(mp::test::shared_path("corpora/tinystories/eval.txt")) + " --ctx 64 --chunks 1"),
        "config.json", "quantization_config");
  }
}

TEST_CASE("hostile config: a config needing more memory than the limit fails cleanly under ulimit -v", "[hostile]") {
  mp::test::ScratchDir dir;
  const std::string model =
      mp::test::stories_with_config(dir.path("m"), [](nlohmann::json& c) { c["num_hidden_layers"] = 1000000000; });
  const auto r = mp::test::run_modelpress_after(mp::test::memory_limit_4gb(), "generate -m " + quoted(model) + " -n 2");
  mp::test::require_bad_input(r, "config.json", "num_hidden_layers");
}

// fuzz_spm_model (2026-12-01): a SentencePiece model with a zero-length piece made the trie builder
// throw through the shim's C API, which aborted; it is bad input.
TEST_CASE("hostile tokenizer: a SentencePiece model with a zero-length piece is bad input", "[hostile]") {
  mp::test::ScratchDir dir;
  const std::string model =
      std::string(mp::source_dir()) + "/tests/fuzz/regressions/fuzz_spm_model/spm-zero-length-piece.model";
  std::ofstream(dir.path("text.txt")) << "hello world\n";
  mp::test::require_bad_input(mp::test::run_modelpress("tokenize --tokenizer " + quoted(model) + " --out " +
                                                       quoted(dir.path("out.h5")) + " " + quoted(dir.path("text.txt"))),
                              "spm-zero-length-piece.model", "zero-length key");
  mp::test::require_no_output(dir.path(), "out.h5");
}
