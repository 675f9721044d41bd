// GPTQ and AWQ checkpoints exported to GGUF q4_0 / q4_1 keep their codes: what the GGUF reader
// decodes is what the checkpoint loader dequantizes, exactly or within the fp16 rounding of q4_1's
// minimum; layouts that cannot be kept are re-quantized and the summary says why.
#include <cmath>
#include <filesystem>

#include "formats/gguf_export.h"
#include "formats/gguf_file.h"
#include "lib/runtime/hf_model_source.h"
#include "tests/test_support.h"

using namespace mp;

namespace {

// Rows of 64 and 128: whole q4 blocks everywhere, so every linear can keep its codes.
std::string write_model(const test::ScratchDir& dir) {
  nlohmann::json config = test::tiny_config("llama");
  config["hidden_size"] = 64;
  config["intermediate_size"] = 128;
  test::write_random_model(dir.path("m"), config, 11);
  std::filesystem::copy_file(test::shared_path("models/stories260K/tokenizer.model"), dir.path("m/tokenizer.model"));
  return dir.path("m");
}

std::string quantize(const test::ScratchDir& dir, const std::string& model, const std::string& name,
                     const std::string& args) {
  const auto r = test::run_modelpress(args + " -q -m '" + model + "' -o '" + dir.path(name) +
                                      "' --nsamples 4 --seqlen 32 --threads 1 --calib '" +
                                      test::shared_path("corpora/tinystories/calib.txt") + "'");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return dir.path(name);
}

GgufExportSummary export_to(const std::string& model, const std::string& out, const std::string& type) {
  GgufExportOptions options;
  options.type = parse_gguf_export_type(type, false);
  return export_gguf(*open_model(model), out, options);
}

std::vector<std::string> linear_names(const ModelConfig& c) {
  std::vector<std::string> names;
  for (int64_t i = 0; i < c.num_layers; ++i)
    for (const char* s : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                          "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"})
      names.push_back(hf_names::layer(i, std::string(s) + ".weight"));
  return names;
}

// Every linear kept its codes; the GGUF decodes to the checkpoint's weights, exactly (`exact`) or
// within half an fp16 ulp of |s·z| (q4_1's rounded minimum) plus one f32 rounding of the sum.
// Returns the largest difference seen.
double check_codes_kept(const std::string& checkpoint, const std::string& gguf, const GgufExportSummary& s,
                        GgmlType type, bool exact) {
  const HfModelSource hf(checkpoint);
  const auto ours = open_model(gguf);
  const GgufFile file(gguf);
  REQUIRE(s.code_origins.size() == linear_names(hf.config()).size());
  double worst = 0;
  for (const GgufCodeOrigin& o : s.code_origins) {
    INFO(o.tensor << ": " << o.why_not);
    CHECK(o.kept_codes);
    CHECK(file.find_tensor(o.tensor)->type == type);
  }
  for (const std::string& name : linear_names(hf.config())) {
    INFO(name);
    const QuantizedLinear q = hf.quantized_linear(name).value();
    const at::Tensor want = q.dequantize(), got = ours->tensor(name);
    const at::Tensor diff = (got - want).abs();
    if (exact) {
      CHECK(at::equal(got, want));
    } else {
      const at::Tensor sz = (q.scales * q.zeros).abs().index_select(1, q.g_idx.to(at::kLong));
      const at::Tensor half_ulp16 = at::pow(2.0, at::floor(at::log2(sz.clamp_min(6.1e-5))) - 11);
      CHECK((diff <= half_ulp16 + want.abs() * std::ldexp(1.0, -23)).all().item<bool>());
    }
    worst = std::max(worst, diff.max().item<double>());
  }
  double reported = 0;
  for (const GgufCodeOrigin& o : s.code_origins) reported = std::max(reported, o.max_error);
  CHECK(reported == worst);  // the summary reports the error the reader sees
  return worst;
}

}  // namespace

TEST_CASE("GGUF export: symmetric 4-bit GPTQ becomes q4_0 and q4_1 losslessly", "[gguf_export][gptq]") {
  test::ScratchDir dir;
  const std::string gptq = quantize(dir, write_model(dir), "q", "gptq --bits 4 --group-size 32 --sym");
  for (const auto& [name, type] : {std::pair{"Q4_0", GgmlType::Q4_0}, std::pair{"Q4_1", GgmlType::Q4_1}}) {
    INFO(name);
    const GgufExportSummary s = export_to(gptq, dir.path(std::string(name) + ".gguf"), name);
    CHECK(s.quantized_input == "GPTQ");
    // q4_1's minimum −8·s is an fp16 value whenever s is: symmetric layers stay exact there too.
    CHECK(check_codes_kept(gptq, dir.path(std::string(name) + ".gguf"), s, type, true) == 0);
    CHECK(s.to_text().find("14 of 14 quantized linears lossless") != std::string::npos);
    CHECK(s.to_text().find("blk.1.ffn_down.weight: lossless from GPTQ") != std::string::npos);
  }
}

TEST_CASE("GGUF export: asymmetric GPTQ and AWQ keep their codes in q4_1", "[gguf_export][gptq][awq]") {
  test::ScratchDir dir;
  const std::string model = write_model(dir);
  for (const auto& [method, args] : {std::pair{"GPTQ", "gptq --bits 4 --group-size 64 --asym"},
                                     std::pair{"AWQ", "awq --bits 4 --group-size 32"}}) {
    INFO(method);
    const std::string checkpoint = quantize(dir, model, method, args);
    const GgufExportSummary s = export_to(checkpoint, dir.path(std::string(method) + ".gguf"), "Q4_1");
    CHECK(s.quantized_input == method);
    const double worst = check_codes_kept(checkpoint, dir.path(std::string(method) + ".gguf"), s, GgmlType::Q4_1, false);
    // s·z rarely fits fp16's 11 bits, so some minima round: kept codes, a tiny error, said so.
    WARN(method << " -> q4_1: max |error| " << worst);
    CHECK(worst > 0);
    CHECK(s.to_text().find("fp16-rounded minimum") != std::string::npos);

    // q4_0 has no zero point: asymmetric layers are re-quantized, with the reason.
    const GgufExportSummary q40 = export_to(checkpoint, dir.path(std::string(method) + "-q40.gguf"), "Q4_0");
    for (const GgufCodeOrigin& o : q40.code_origins) {
      CHECK_FALSE(o.kept_codes);
      CHECK(o.why_not.find("zero points other than 8") != std::string::npos);
    }
  }
}

TEST_CASE("GGUF export: GPTQ layouts q4 blocks cannot hold are re-quantized and reported", "[gguf_export][gptq]") {
  test::ScratchDir dir;
  const std::string model = write_model(dir);
  const std::string g16 = quantize(dir, model, "g16", "gptq --bits 4 --group-size 16 --sym");
  const GgufExportSummary s = export_to(g16, dir.path("g16.gguf"), "Q4_0");
  REQUIRE(s.code_origins.size() == 14);
  for (const GgufCodeOrigin& o : s.code_origins) {
    CHECK_FALSE(o.kept_codes);
    CHECK(o.why_not == "group size 16 is not a multiple of 32");
  }
  CHECK(s.to_text().find("0 of 14 quantized linears lossless") != std::string::npos);
  CHECK(s.to_text().find("blk.0.attn_q.weight: re-quantized (group size 16") != std::string::npos);

  // desc_act: columns are grouped in Hessian order, so a 32-value block spans several groups.
  const std::string act = quantize(dir, model, "act", "gptq --bits 4 --group-size 32 --sym --act-order");
  const GgufExportSummary a = export_to(act, dir.path("act.gguf"), "Q4_0");
  int64_t act_order = 0;
  for (const GgufCodeOrigin& o : a.code_origins) act_order += o.why_not.find("act-order") != std::string::npos;
  CHECK(act_order > 0);

  // 8-bit codes and k-quant targets are re-quantized too; the CLI prints the per-tensor verdicts.
  const std::string b8 = quantize(dir, model, "b8", "gptq --bits 8 --group-size 32 --sym");
  auto r = test::run_modelpress("export -q --type Q4_0 -m '" + b8 + "' -o " + dir.path("b8.gguf"));
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("blk.0.attn_q.weight: re-quantized (8-bit codes)") != std::string::npos);
  r = test::run_modelpress("export -q --json --type Q4_K_M -m '" + act + "' -o " + dir.path("k.gguf"));
  REQUIRE(r.exit_code == 0);
  // The document outlives the loop: a range-for over a member of a temporary reads freed memory.
  const nlohmann::json summary = nlohmann::json::parse(r.out);
  REQUIRE(!summary.at("quantized_linears").empty());
  for (const auto& o : summary.at("quantized_linears")) CHECK(o["codes_kept"] == false);
}
