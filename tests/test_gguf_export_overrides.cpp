// llama-quantize's per-tensor knobs on `export --to gguf`: --tensor-type, --output-tensor-type,
// --token-embedding-type, --leave-output-tensor (which tensors got which type, and bad values).
#include <filesystem>
#include <map>

#include "formats/gguf_file.h"
#include "tests/test_support.h"

using namespace mp;

namespace {

std::map<std::string, GgmlType> exported_types(const std::string& model, const std::string& out,
                                               const std::string& options) {
  const test::CommandResult r =
      test::run_modelpress("export -q --to gguf -m " + model + " -o " + out + " " + options);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::map<std::string, GgmlType> types;
  const GgufFile file(out);
  for (const GgufTensorInfo& t : file.tensors()) types[t.name] = t.type;
  return types;
}

}  // namespace

TEST_CASE("export --tensor-type, --output-tensor-type, --token-embedding-type, --leave-output-tensor", "[gguf_export][cli]") {
  test::ScratchDir dir;
  test::write_random_model(dir.path("m"), test::kquant_config(), 7);  // 2 layers, untied output
  std::filesystem::copy_file(test::shared_path("models/stories260K/tokenizer.model"), dir.path("m/tokenizer.model"));

  // The first matching pattern wins; unmatched tensors follow the Q4_K_M rules (blk.1's attn_v and
  // ffn_down are Q6_K there); output and token_embd take their own options.
  auto t = exported_types(dir.path("m"), dir.path("a.gguf"),
                          "--type Q4_K_M --tensor-type 'attn_(q|k)=q8_0' --tensor-type attn_q=q5_k "
                          "--tensor-type 'blk\\.0\\.ffn_up=Q2_K' --output-tensor-type q5_k --token-embedding-type q8_0");
  CHECK(t["blk.0.attn_q.weight"] == GgmlType::Q8_0);
  CHECK(t["blk.1.attn_k.weight"] == GgmlType::Q8_0);
  CHECK(t["blk.0.ffn_up.weight"] == GgmlType::Q2_K);
  CHECK(t["blk.1.ffn_up.weight"] == GgmlType::Q4_K);
  CHECK(t["blk.1.attn_v.weight"] == GgmlType::Q6_K);
  CHECK(t["blk.1.ffn_down.weight"] == GgmlType::Q6_K);
  CHECK(t["output.weight"] == GgmlType::Q5_K);
  CHECK(t["token_embd.weight"] == GgmlType::Q8_0);
  CHECK(t["blk.0.attn_norm.weight"] == GgmlType::F32);

  t = exported_types(dir.path("m"), dir.path("b.gguf"), "--type Q4_K_M --leave-output-tensor");
  CHECK(t["output.weight"] == GgmlType::F32);
  CHECK(t["token_embd.weight"] == GgmlType::Q4_K);
  CHECK(t["blk.1.attn_v.weight"] == GgmlType::Q6_K);

  // --pure still honours --tensor-type.
  t = exported_types(dir.path("m"), dir.path("c.gguf"), "--type Q4_K_M --pure --tensor-type ffn_down=q6_k");
  CHECK(t["blk.0.ffn_down.weight"] == GgmlType::Q6_K);
  CHECK(t["blk.1.attn_v.weight"] == GgmlType::Q4_K);
  CHECK(t["output.weight"] == GgmlType::Q4_K);
}

TEST_CASE("export --output-tensor-type also types a tied token_embd; --token-embedding-type wins", "[gguf_export][cli]") {
  test::ScratchDir dir;
  const std::string model = test::shared_path("models/tinymix-10M");  // tied embeddings
  auto t = exported_types(model, dir.path("a.gguf"), "--type Q4_K_M --output-tensor-type q8_0");
  CHECK(t["token_embd.weight"] == GgmlType::Q8_0);
  CHECK(t.count("output.weight") == 0);
  t = exported_types(model, dir.path("b.gguf"), "--type Q4_K_M --output-tensor-type q8_0 --token-embedding-type q4_k");
  CHECK(t["token_embd.weight"] == GgmlType::Q4_K);
}

TEST_CASE("export type overrides: bad values are one-line bad input", "[gguf_export][cli]") {
  test::ScratchDir dir;
  test::write_random_model(dir.path("m"), test::tiny_config(), 3);
  std::filesystem::copy_file(test::shared_path("models/stories260K/tokenizer.model"), dir.path("m/tokenizer.model"));
  const std::map<std::string, std::string> bad = {
      {"--tensor-type attn_q", "--tensor-type: "},
      {"--tensor-type '(=q4_k'", "--tensor-type: "},
      {"--tensor-type attn_q=q9_k", "--tensor-type: "},
      {"--output-tensor-type nope", "--output-tensor-type: "},
      {"--token-embedding-type iq2_xxs", "--token-embedding-type: "},
  };
  for (const auto& [options, prefix] : bad) {
    const test::CommandResult r =
        test::run_modelpress("export --to gguf --type Q4_0 -m " + dir.path("m") + " -o " + dir.path("o.gguf") + " " + options);
    INFO(r.err);
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("error: " + prefix) != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
}
