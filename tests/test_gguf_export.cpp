// GGUF export against llama.cpp's own converter output, the GGUF model source against the HF model
// it came from, and every export type read back.
#include <algorithm>
#include <cstring>
#include <fstream>

#include "formats/gguf_export.h"
#include "formats/gguf_file.h"
#include "lib/runtime/gguf_model_source.h"
#include "lib/runtime/hf_model_source.h"
#include "lib/runtime/llama_model.h"
#include "lib/runtime/runtime.h"
#include "tests/test_support.h"

using namespace mp;

namespace {

GgufExportSummary export_to(const std::string& model, const std::string& out, const std::string& type) {
  GgufExportOptions options;
  options.type = parse_gguf_export_type(type, false);
  return export_gguf(*open_model(model), out, options);
}

// Bits per weight recomputed from the file itself: data bytes of every tensor over its elements.
double file_bits_per_weight(const GgufFile& f) {
  double bits = 0, weights = 0;
  for (const GgufTensorInfo& t : f.tensors()) {
    bits += 8.0 * t.bytes;
    weights += static_cast<double>(t.numel());
  }
  return bits / weights;
}

double relative_rms(const at::Tensor& a, const at::Tensor& b) {
  return ((a - b).pow(2).mean().sqrt() / b.pow(2).mean().sqrt()).item<double>();
}

}  // namespace

TEST_CASE("GGUF export F32 of stories260K equals llama.cpp's convert_hf_to_gguf output", "[gguf_export]") {
  test::ScratchDir dir;
  export_to(test::shared_path("models/stories260K"), dir.path("ours.gguf"), "F32");
  const GgufFile ours(dir.path("ours.gguf"));
  const GgufFile ref(test::shared_path("models/stories260K-llamacpp-f32.gguf"));
  // Our provenance keys come on top of llama.cpp's; the rest must match key for key.
  auto metadata = ours.metadata();
  const auto provenance_begin = std::stable_partition(metadata.begin(), metadata.end(), [](const auto& kv) {
    return kv.first.rfind("general.modelpress.", 0) != 0;
  });
  CHECK(metadata.end() - provenance_begin >= 2);  // at least version and commit
  metadata.erase(provenance_begin, metadata.end());
  REQUIRE(metadata.size() == ref.metadata().size());
  for (size_t i = 0; i < ref.metadata().size(); ++i) {
    const auto& [key, value] = ref.metadata()[i];
    INFO(key);
    CHECK(metadata[i].first == key);
    CHECK(metadata[i].second.type() == value.type());
    if (key != "general.name") CHECK(metadata[i].second == value);  // free text, from the directory name
  }
  REQUIRE(ours.tensors().size() == ref.tensors().size());
  for (size_t i = 0; i < ref.tensors().size(); ++i) {
    const GgufTensorInfo &a = ours.tensors()[i], &b = ref.tensors()[i];
    INFO(b.name);
    CHECK(a.name == b.name);
    CHECK(a.dims == b.dims);
    CHECK(a.type == b.type);
    CHECK(a.offset == b.offset);
    REQUIRE(a.bytes == b.bytes);
    CHECK(std::memcmp(ours.bytes(a), ref.bytes(b), a.bytes) == 0);  // q/k permuted exactly as llama.cpp does
  }
}

TEST_CASE("GGUF model source: llama.cpp's stories260K file reads back as the HF model", "[gguf_export]") {
  const HfModelSource hf(test::shared_path("models/stories260K"));
  const auto source = open_model(test::shared_path("models/stories260K-llamacpp-f32.gguf"));
  REQUIRE(dynamic_cast<const GgufModelSource*>(source.get()) != nullptr);
  const ModelConfig &a = source->config(), &b = hf.config();
  CHECK(a.hidden_size == b.hidden_size);
  CHECK(a.intermediate_size == b.intermediate_size);
  CHECK(a.num_layers == b.num_layers);
  CHECK(a.num_heads == b.num_heads);
  CHECK(a.num_kv_heads == b.num_kv_heads);
  CHECK(a.head_dim == b.head_dim);
  CHECK(a.vocab_size == b.vocab_size);
  CHECK(a.max_position_embeddings == b.max_position_embeddings);
  CHECK(static_cast<float>(a.rms_norm_eps) == static_cast<float>(b.rms_norm_eps));
  CHECK(a.rope_theta == b.rope_theta);
  CHECK(a.tie_word_embeddings == b.tie_word_embeddings);
  for (const LlamaTensorName& name : llama_tensor_names(b)) {
    INFO(name.hf);
    REQUIRE(source->has(name.hf));
    CHECK(at::equal(source->tensor(name.hf), hf.tensor(name.hf)));  // q/k un-permuted exactly
  }
  CHECK_FALSE(source->has(hf_names::lm_head));

  const Tokenizer ours = source->tokenizer(), theirs = hf.tokenizer();
  REQUIRE(ours.vocab_size() == theirs.vocab_size());
  for (int32_t id = 0; id < theirs.vocab_size(); ++id) {
    CHECK(ours.piece(id) == theirs.piece(id));
    CHECK(ours.type(id) == theirs.type(id));
  }
  CHECK(ours.bos_id() == theirs.bos_id());
  CHECK(ours.eos_id() == theirs.eos_id());
  CHECK(ours.unk_id() == theirs.unk_id());
  const std::string text = read_text_file(test::shared_path("corpora/tinystories/eval.txt"));
  CHECK(ours.encode(text, true) == theirs.encode(text, true));
  // Bytes outside the vocabulary go through byte fallback in both.
  const std::string odd = "Zoë ate 🍕 at 3:45\t\t  twice";
  CHECK(ours.encode(odd, true) == theirs.encode(odd, true));
  CHECK(ours.decode(ours.encode(odd, false)) == odd);
}

// The whole of eval.txt, as llama-perplexity runs it on this very file: 1151 chunks of 256 tokens,
// PPL 4.6630 as llama.cpp prints it (four decimals), one thread.
TEST_CASE("modelpress eval on llama.cpp's stories260K GGUF gives llama-perplexity's 4.6630", "[gguf_export][cli][ppl]") {
  const auto r = test::run_modelpress("eval -q --json --ctx 256 --batch 8 --threads 1 --dtype f32 -m '" +
                                      test::shared_path("models/stories260K-llamacpp-f32.gguf") + "' -f '" +
                                      test::shared_path("corpora/tinystories/eval.txt") + "'");
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["chunks"] == 1151);
  CHECK(std::abs(j["ppl"].get<double>() - 4.6630) <= 0.00005);
}

TEST_CASE("GGUF export of stories260K: every type loads, fallbacks for 172-wide rows are reported", "[gguf_export]") {
  test::ScratchDir dir;
  const std::string hf = test::shared_path("models/stories260K");
  LlamaModel base(open_model(hf), RuntimeOptions{});
  const std::vector<int32_t> prompt = base.source().tokenizer().encode(
      "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.", true);
  const at::Tensor tokens = at::tensor(std::vector<int64_t>(prompt.begin(), prompt.end())).unsqueeze(0);
  const at::Tensor want = base.forward(tokens);
  // Looser bounds for fewer bits; the 172-wide ffn_down falls back to F16 in every quantized type.
  const std::vector<std::pair<std::string, double>> types = {
      {"F32", 1e-6},   {"F16", 2e-3},   {"BF16", 2e-2},   {"Q8_0", 2e-2},   {"Q4_0", 0.25},  {"Q4_1", 0.2},
      {"Q5_0", 0.12},  {"Q5_1", 0.1},   {"Q2_K", 0.5},    {"Q3_K", 0.35},   {"Q4_K", 0.25},  {"Q5_K", 0.12},
      {"Q6_K", 0.06},  {"IQ4_NL", 0.2}, {"IQ4_XS", 0.2},  {"Q4_K_S", 0.25}, {"Q4_K_M", 0.25}, {"Q5_K_S", 0.12},
      {"Q5_K_M", 0.12}, {"Q3_K_S", 0.5}, {"Q3_K_M", 0.35}, {"Q3_K_L", 0.3}};
  for (const auto& [type, bound] : types) {
    INFO(type);
    const std::string path = dir.path(type + ".gguf");
    const GgufExportSummary s = export_to(hf, path, type);
    const GgufFile f(path);
    CHECK(std::abs(s.bits_per_weight() - file_bits_per_weight(f)) < 1e-9);
    LlamaModel model(open_model(path), RuntimeOptions{});
    const double err = relative_rms(model.forward(tokens), want);
    CHECK(err < bound);
    const bool quantized = type.find('Q') != std::string::npos;
    for (const GgufTensorInfo& t : f.tensors()) {
      if (t.name.find("ffn_down") != std::string::npos) CHECK(t.type == (quantized ? GgmlType::F16 : f.tensors()[0].type));
      if (t.dims.size() == 1) CHECK(t.type == GgmlType::F32);
    }
    int64_t ffn_down_fallbacks = 0;
    for (const GgufExportFallback& fb : s.fallbacks) {
      CHECK(f.find_tensor(fb.tensor)->type == fb.used);
      CHECK(fb.used != fb.wanted);
      CHECK_FALSE(fb.why.empty());
      ffn_down_fallbacks += fb.tensor.find("ffn_down") != std::string::npos;
    }
    CHECK(ffn_down_fallbacks == (quantized ? 5 : 0));
  }
}

TEST_CASE("GGUF export: k-quant mixes follow llama-quantize's per-tensor rules", "[gguf_export]") {
  test::ScratchDir dir;
  nlohmann::json config = test::kquant_config();  // 4 heads per KV head: the n_gqa >= 4 rules apply
  test::write_random_model(dir.path("m"), config, 5);
  std::filesystem::copy_file(test::shared_path("models/stories260K/tokenizer.model"), dir.path("m/tokenizer.model"));
  // Expected types written out from llama_tensor_get_type for 2 layers (use_more_bits(i, 2) is true
  // for layer 1 only), untied output, n_gqa 4. Keys: mix -> tensor -> type.
  const std::map<std::string, std::map<std::string, GgmlType>> expected = {
      {"Q4_K_M", {{"output.weight", GgmlType::Q6_K}, {"token_embd.weight", GgmlType::Q4_K},
                  {"blk.0.attn_v.weight", GgmlType::Q4_K}, {"blk.1.attn_v.weight", GgmlType::Q6_K},
                  {"blk.0.ffn_down.weight", GgmlType::Q4_K}, {"blk.1.ffn_down.weight", GgmlType::Q6_K},
                  {"blk.0.attn_q.weight", GgmlType::Q4_K}}},
      {"Q4_K_S", {{"blk.0.attn_v.weight", GgmlType::Q5_K}, {"blk.1.attn_v.weight", GgmlType::Q5_K},
                  {"blk.0.ffn_down.weight", GgmlType::Q4_K}}},
      {"Q2_K", {{"blk.0.attn_v.weight", GgmlType::Q4_K}, {"blk.0.ffn_down.weight", GgmlType::Q3_K},
                {"blk.0.attn_output.weight", GgmlType::Q3_K}, {"blk.0.ffn_up.weight", GgmlType::Q2_K},
                {"output.weight", GgmlType::Q6_K}}},
      {"Q3_K_M", {{"blk.0.attn_v.weight", GgmlType::Q5_K}, {"blk.1.attn_v.weight", GgmlType::Q5_K},
                  {"blk.0.ffn_down.weight", GgmlType::Q4_K}, {"blk.0.attn_output.weight", GgmlType::Q4_K},
                  {"blk.0.ffn_gate.weight", GgmlType::Q3_K}}},
      {"Q3_K_L", {{"blk.0.attn_v.weight", GgmlType::Q5_K}, {"blk.0.ffn_down.weight", GgmlType::Q5_K},
                  {"blk.0.attn_output.weight", GgmlType::Q5_K}}},
      {"Q3_K_S", {{"blk.0.attn_v.weight", GgmlType::Q3_K}, {"blk.0.ffn_down.weight", GgmlType::Q3_K}}},
      {"Q5_K_M", {{"blk.0.attn_v.weight", GgmlType::Q5_K}, {"blk.1.attn_v.weight", GgmlType::Q6_K},
                  {"blk.1.ffn_down.weight", GgmlType::Q6_K}}},
      {"Q5_K_S", {{"blk.1.attn_v.weight", GgmlType::Q5_K}, {"blk.1.ffn_down.weight", GgmlType::Q5_K}}},
      {"IQ4_XS", {{"blk.0.attn_v.weight", GgmlType::Q5_K}, {"blk.0.attn_k.weight", GgmlType::IQ4_XS},
                  {"output.weight", GgmlType::Q6_K}}},
      {"Q8_0", {{"output.weight", GgmlType::Q8_0}, {"blk.0.attn_v.weight", GgmlType::Q8_0}}},
      {"Q4_0", {{"output.weight", GgmlType::Q6_K}, {"token_embd.weight", GgmlType::Q4_0}}},
  };
  // Decoding error per tensor, bounded by its type (random gaussian weights, relative RMS).
  const std::map<GgmlType, double> bound = {
      {GgmlType::F32, 0},       {GgmlType::Q2_K, 0.45},   {GgmlType::Q3_K, 0.25},  {GgmlType::Q4_K, 0.12},
      {GgmlType::Q5_K, 0.06},   {GgmlType::Q6_K, 0.03},   {GgmlType::Q8_0, 0.01},  {GgmlType::Q4_0, 0.15},
      {GgmlType::IQ4_XS, 0.12}};
  const auto hf = open_model(dir.path("m"));
  for (const auto& [mix, tensors] : expected) {
    INFO(mix);
    const std::string path = dir.path(mix + ".gguf");
    const GgufExportSummary s = export_to(dir.path("m"), path, mix);
    CHECK(s.fallbacks.empty());
    const GgufFile f(path);
    for (const auto& [name, type] : tensors) {
      INFO(name);
      CHECK(f.find_tensor(name)->type == type);
    }
    const auto gguf = open_model(path);
    for (const LlamaTensorName& name : llama_tensor_names(hf->config())) {
      INFO(name.gguf);
      CHECK(relative_rms(gguf->tensor(name.hf), hf->tensor(name.hf)) <= bound.at(f.find_tensor(name.gguf)->type));
    }
  }
  // --pure: every 2-D weight in the base type, output included.
  GgufExportOptions pure;
  pure.type = parse_gguf_export_type("q4_k_m", true);
  export_gguf(*open_model(dir.path("m")), dir.path("pure.gguf"), pure);
  const GgufFile pure_file(dir.path("pure.gguf"));
  for (const GgufTensorInfo& t : pure_file.tensors())
    CHECK(t.type == (t.dims.size() == 1 ? GgmlType::F32 : GgmlType::Q4_K));
}

TEST_CASE("modelpress export: JSON summary, unknown type, broken GGUF input", "[gguf_export][cli]") {
  test::ScratchDir dir;
  const std::string hf = test::shared_path("models/stories260K");
  auto r = test::run_modelpress("export -q --to gguf --type Q4_K_M --json -m '" + hf + "' -o " + dir.path("a.gguf"));
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["file_type"] == 15);
  // Every 2-D weight of the 5 layers has 64- or 172-wide rows, which no k-quant block (256) holds.
  CHECK(j["fallbacks"].size() == 35);
  CHECK(std::abs(j["bits_per_weight"].get<double>() - file_bits_per_weight(GgufFile(dir.path("a.gguf")))) < 1e-9);

  r = test::run_modelpress("export -q --type Q9_9 -m '" + hf + "' -o " + dir.path("b.gguf"));
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("Q4_K_M") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.path("b.gguf")));

  // A GGUF cut short: one line naming the file, exit code 3, from every tool that opens models.
  {
    std::ifstream in(dir.path("a.gguf"), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(dir.path("cut.gguf"), std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  }
  for (const std::string cmd : {"eval -f /dev/null -m ", "generate -m ", "export -o /dev/null -m "}) {
    r = test::run_modelpress(cmd + dir.path("cut.gguf"));
    INFO(cmd << r.err);
    CHECK(r.exit_code == 3);
    CHECK(r.err.find(dir.path("cut.gguf")) != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
}
