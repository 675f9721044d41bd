// Quantization-aware distillation (distill-train --quantize, docs/qad.md): the straight-through
// linear has the plain linear's gradient at the rounded point; the rounding is the exporter's
// (every tensor of an exported GGUF, and the ggml block grid's own choose/quantize/dequantize);
// the file a run writes decodes to the student's fake-quantized forward; a few steps lower the KL
// divergence to the teacher; fallbacks are reported and bad targets refused.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "distill/fake_quantizer.h"
#include "distill/student_model.h"
#include "distill/token_dataset.h"
#include "formats/gguf_block_grid.h"
#include "formats/gguf_export.h"
#include "formats/gguf_stored_grids.h"
#include "formats/safetensors.h"
#include "lib/runtime/llama_model.h"
#include "quant/rtn.h"
#include "tests/qad_teacher.h"
#include "tests/test_support.h"

namespace {

const char* kQProj = "model.layers.0.self_attn.q_proj.weight";

// A random k-quant-shaped teacher with stories260K's tokenizer (same vocabulary size), and tokens.
struct QadSetup {
  mp::test::ScratchDir dir;
  std::string teacher, common;
  explicit QadSetup(const nlohmann::json& config = mp::test::kquant_config()) {
    teacher = dir.path("teacher");
    mp::test::write_qad_teacher(teacher, dir.path("tokens.h5"), config);
    common = "distill-train --student '" + teacher + "' --teacher '" + teacher + "' --data '" + dir.path("tokens.h5") +
             "' --seq 32 --batch 2 --warmup 0 --threads 1 --quiet --json --seed 1";
  }
};

at::Tensor sample_tokens() { return at::arange(3, 3 + 48, at::kLong).remainder(251).unsqueeze(0); }

// Mean KL(teacher ‖ model) per position over the sample tokens.
double mean_kld(mp::LlamaModel& teacher, mp::LlamaModel& model) {
  at::NoGradGuard no_grad;
  const at::Tensor p = at::log_softmax(teacher.forward(sample_tokens()), -1);
  const at::Tensor q = at::log_softmax(model.forward(sample_tokens()), -1);
  return (p.exp() * (p - q)).sum(-1).mean().item<double>();
}

}  // namespace

TEST_CASE("qad: a fake-quantized linear has the plain linear's gradient at the rounded point", "[qad]") {
  at::manual_seed(3);
  const mp::ModelConfig config = mp::ModelConfig::from_json(mp::test::kquant_config(), "test");
  for (const char* spec : {"gguf:Q2_K", "gptq:w4g128"}) {
    INFO(spec);
    const mp::FakeQuantizer quantizer(mp::parse_quantize_target(spec), config);
    const at::Tensor master = (at::randn({256, 256}) * 0.05).set_requires_grad(true);
    const at::Tensor x = at::randn({5, 256}), upstream = at::randn({5, 256});
    const at::Tensor y = at::matmul(x, quantizer.apply(kQProj, master).t());
    (y * upstream).sum().backward();

    const at::Tensor rounded = quantizer.round(kQProj, master).set_requires_grad(true);
    const at::Tensor y_plain = at::matmul(x, rounded.t());
    (y_plain * upstream).sum().backward();
    CHECK(y.equal(y_plain));                                   // the forward value is exactly round(w)
    CHECK(master.grad().allclose(rounded.grad(), 1e-6, 1e-6));  // the gradient goes straight through
    CHECK((rounded - master).abs().max().item<double>() > 1e-3);  // and the rounding did something
  }
}

TEST_CASE("qad: the rounding is the ggml block grid's and every tensor is what export writes", "[qad]") {
  QadSetup s;
  const auto source = mp::open_model(s.teacher);
  for (const char* type : {"Q2_K", "Q3_K_M"}) {
    INFO(type);
    const mp::FakeQuantizer quantizer(mp::parse_quantize_target(std::string("gguf:") + type), source->config());
    // The block grid's choose + quantize + dequantize, a path independent of the row codecs.
    const at::Tensor w = source->tensor(kQProj);
    const mp::GgmlType q_type = quantizer.grids().at(kQProj) == "q2_K" ? mp::GgmlType::Q2_K : mp::GgmlType::Q3_K;
    const at::Tensor by_grid = mp::quantize_rtn(w, std::make_shared<mp::GgufBlockGrid>(q_type)).dequantize();
    CHECK(quantizer.round(kQProj, w).allclose(by_grid, 0, 1e-6));

    mp::GgufExportOptions options;
    options.type = mp::parse_gguf_export_type(type, false);
    const std::string gguf = s.dir.path(std::string(type) + ".gguf");
    mp::export_gguf(*source, gguf, options);
    const auto exported = mp::open_model(gguf);
    int64_t rounded = 0;
    for (const std::string& name : mp::llama_parameter_names(source->config())) {
      INFO(name);
      const at::Tensor mine = quantizer.round(name, source->tensor(name));
      CHECK(mine.equal(exported->tensor(name)));
      rounded += quantizer.grids().count(name);
    }
    CHECK(rounded == 1 + 7 * source->config().num_layers + 1);  // embedding, 7 linears per layer, output matrix
  }
}

TEST_CASE("qad: the exported file's forward equals the student's fake-quantized forward", "[qad]") {
  QadSetup s;
  for (const char* spec : {"gguf:Q3_K_M", "gptq:w4g128"}) {
    INFO(spec);
    const std::string out = s.dir.path(std::string("out-") + (spec[1] == 'g' ? "gguf" : "gptq"));
    const auto run = mp::test::run_modelpress(s.common + " --steps 3 --lr 1e-3 --quantize " + spec + " --out '" + out + "'");
    REQUIRE(run.exit_code == 0);
    const auto report = nlohmann::json::parse(run.out);
    const std::string file = report["quantized_out"];
    REQUIRE(std::filesystem::exists(file));

    mp::StudentModel student = mp::StudentModel::from_pretrained(out);
    const mp::FakeQuantizer quantizer(mp::parse_quantize_target(spec), student.config());
    CHECK((student.parameter(kQProj) - mp::open_model(s.teacher)->tensor(kQProj)).abs().max().item<double>() > 0);
    student.set_weight_view([&](const std::string& name, const at::Tensor& w) { return quantizer.apply(name, w); });
    at::NoGradGuard no_grad;
    const at::Tensor mine = student.forward(sample_tokens(), at::kFloat);
    mp::LlamaModel decoded(mp::open_model(file), mp::RuntimeOptions{});
    const at::Tensor theirs = decoded.forward(sample_tokens());
    CHECK((mine - theirs).abs().max().item<double>() < 1e-4);
    mp::LlamaModel masters(mp::open_model(out), mp::RuntimeOptions{});  // the rounding is not a no-op
    CHECK((masters.forward(sample_tokens()) - theirs).abs().max().item<double>() > 1e-3);
  }
}

TEST_CASE("qad: a few steps at Q2_K lower the KL divergence of the exported file to the teacher", "[qad]") {
  QadSetup s;
  const std::string run = s.common + " --quantize gguf:Q2_K --lr 1e-3 --min-lr 1e-3";
  const auto init = mp::test::run_modelpress(run + " --steps 0 --out '" + s.dir.path("init") + "'");
  REQUIRE(init.exit_code == 0);
  const auto trained = mp::test::run_modelpress(run + " --steps 30 --out '" + s.dir.path("trained") + "'");
  REQUIRE(trained.exit_code == 0);
  mp::LlamaModel teacher(mp::open_model(s.teacher), mp::RuntimeOptions{});
  mp::LlamaModel before(mp::open_model(nlohmann::json::parse(init.out)["quantized_out"]), mp::RuntimeOptions{});
  mp::LlamaModel after(mp::open_model(nlohmann::json::parse(trained.out)["quantized_out"]), mp::RuntimeOptions{});
  const double kld_before = mean_kld(teacher, before), kld_after = mean_kld(teacher, after);
  INFO("KLD " << kld_before << " -> " << kld_after);
  CHECK(kld_before > 1e-3);
  CHECK(kld_after < 0.85 * kld_before);
}

TEST_CASE("qad: a killed quantization-aware run resumes to the same file", "[qad]") {
  QadSetup s;
  const std::string run = s.common + " --quantize gguf:Q2_K --lr 1e-3 --steps 4 --checkpoint-every 2";
  const auto full = mp::test::run_modelpress(run + " --out '" + s.dir.path("full") + "'");
  REQUIRE(full.exit_code == 0);
  REQUIRE(mp::test::run_modelpress(run + " --out '" + s.dir.path("resumed") + "' --stop-after-step 3").exit_code == 0);
  CHECK_FALSE(std::filesystem::exists(s.dir.path("resumed/model-Q2_K.gguf")));
  const auto resumed = mp::test::run_modelpress(run + " --out '" + s.dir.path("resumed") + "' --resume");
  REQUIRE(resumed.exit_code == 0);
  CHECK(nlohmann::json::parse(resumed.out)["resumed_from_step"] == 2);
  const auto a = mp::open_model(s.dir.path("full/model-Q2_K.gguf")), b = mp::open_model(s.dir.path("resumed/model-Q2_K.gguf"));
  for (const std::string& name : mp::llama_parameter_names(a->config())) CHECK(a->tensor(name).equal(b->tensor(name)));
  // Resuming with another target is refused.
  const auto other = mp::test::run_modelpress(s.common + " --quantize gguf:Q3_K_M --lr 1e-3 --steps 4 --checkpoint-every 2 --out '" +
                                              s.dir.path("resumed") + "' --resume");
  CHECK(other.exit_code == 3);
  CHECK_THAT(other.err, Catch::Contains("quantize"));
}

TEST_CASE("qad: shapes a type cannot hold fall back as export does; unknown targets are refused", "[qad]") {
  QadSetup s(mp::test::tiny_config());  // rows of 32 and 48 values: no 256-wide k-quant block fits
  const auto run = mp::test::run_modelpress(s.common + " --steps 1 --quantize gguf:Q2_K --out '" + s.dir.path("tiny") + "'");
  REQUIRE(run.exit_code == 0);
  const auto report = nlohmann::json::parse(run.out);
  CHECK_FALSE(report["quantize_fallbacks"].empty());
  CHECK(report["quantized_grids"].count("q2_K") == 0);
  CHECK(std::filesystem::exists(report["quantized_out"].get<std::string>()));

  for (const char* bad : {"gguf:Q9_X", "gptq:w4", "awq:w4g128", "Q4_K_M"}) {
    INFO(bad);
    const auto refused = mp::test::run_modelpress(s.common + " --steps 1 --quantize " + bad + " --out '" + s.dir.path("bad") + "'");
    CHECK(refused.exit_code == 3);
    CHECK(std::count(refused.err.begin(), refused.err.end(), '\n') == 1);
    CHECK_THAT(refused.err, Catch::StartsWith("modelpress: error: --quantize: "));
    CHECK_FALSE(std::filesystem::exists(s.dir.path("bad")));
  }
}

TEST_CASE("qad: on the grid frozen to the init file, step 0 is that file and the export its parameters", "[qad]") {
  QadSetup s;
  const auto teacher = mp::open_model(s.teacher);
  // The init file: the teacher in Q3_K_M. The search run again on its decoded weights does not
  // always find the parameters it stores; the frozen grid keeps them.
  mp::GgufExportOptions options;
  options.type = mp::parse_gguf_export_type("Q3_K_M", false);
  const std::string init = s.dir.path("init-Q3_K_M.gguf");
  mp::export_gguf(*teacher, init, options);
  const auto init_model = mp::open_model(init);
  const mp::QuantizeTarget target = mp::parse_quantize_target("gguf:Q3_K_M");
  mp::FakeQuantizer frozen(target, teacher->config());
  frozen.freeze_grids(init, "--grid");
  const mp::FakeQuantizer rechosen(target, teacher->config());
  CHECK(frozen.frozen_grids().size() == frozen.grids().size());  // every Q3_K_M tensor is a k-quant
  int64_t rechosen_differs = 0;
  for (const std::string& name : mp::llama_parameter_names(teacher->config())) {
    INFO(name);
    const at::Tensor start = init_model->tensor(name);  // the masters as --init-weights sets them
    CHECK(frozen.round(name, start).equal(start));
    rechosen_differs += !rechosen.round(name, start).equal(start);
  }
  CHECK(rechosen_differs > 0);  // so the equality above is the frozen grid's doing

  // The step-0 student's logits are the init file's, exactly, through the same forward.
  mp::StudentModel student = mp::StudentModel::from_pretrained(s.teacher);
  student.load_values(*init_model);
  at::NoGradGuard no_grad;
  const at::Tensor file_logits = student.forward(sample_tokens(), at::kFloat);
  student.set_weight_view([&](const std::string& name, const at::Tensor& w) { return frozen.apply(name, w); });
  CHECK(student.forward(sample_tokens(), at::kFloat).equal(file_logits));

  // A run with --steps 0 writes the init file's tensors; 3 steps write new codes on its parameters,
  // and the file decodes to the student's fake-quantized forward.
  const std::string run = s.common + " --quantize gguf:Q3_K_M --lr 1e-3 --init-weights '" + init + "'";
  const auto step0 = mp::test::run_modelpress(run + " --steps 0 --out '" + s.dir.path("step0") + "'");
  REQUIRE(step0.exit_code == 0);
  const auto step0_report = nlohmann::json::parse(step0.out);
  CHECK(step0_report["grid"] == "frozen");
  CHECK(step0_report["frozen_tensors"] == static_cast<int64_t>(frozen.grids().size()));
  const auto step0_file = mp::open_model(step0_report["quantized_out"].get<std::string>());
  for (const std::string& name : mp::llama_parameter_names(teacher->config()))
    CHECK(step0_file->tensor(name).equal(init_model->tensor(name)));

  const auto trained = mp::test::run_modelpress(run + " --steps 3 --out '" + s.dir.path("trained") + "'");
  REQUIRE(trained.exit_code == 0);
  const std::string file = nlohmann::json::parse(trained.out)["quantized_out"];
  mp::StudentModel masters = mp::StudentModel::from_pretrained(s.dir.path("trained"));
  masters.set_weight_view([&](const std::string& name, const at::Tensor& w) { return frozen.apply(name, w); });
  mp::LlamaModel decoded(mp::open_model(file), mp::RuntimeOptions{});
  const at::Tensor theirs = decoded.forward(sample_tokens());
  CHECK((masters.forward(sample_tokens(), at::kFloat) - theirs).abs().max().item<double>() < 1e-4);
  CHECK((file_logits - theirs).abs().max().item<double>() > 1e-4);  // training moved codes
  const mp::StoredGrids written = mp::read_stored_grids(file, teacher->config(), [&] {
    std::map<std::string, mp::GgmlType> types;
    for (const auto& [name, grid] : frozen.frozen_grids()) types[name] = grid->type();
    return types;
  }());
  REQUIRE(written.size() == frozen.frozen_grids().size());
  for (const auto& [name, grid] : frozen.frozen_grids()) CHECK(written.at(name)->stored().equal(grid->stored()));
}

TEST_CASE("qad: a frozen grid needs a gguf target and a GGUF to read it from", "[qad]") {
  QadSetup s;
  const std::string init = s.dir.path("init.gguf");
  mp::GgufExportOptions options;
  options.type = mp::parse_gguf_export_type("Q2_K", false);
  mp::export_gguf(*mp::open_model(s.teacher), init, options);
  const std::string run = s.common + " --steps 1 --out '" + s.dir.path("bad") + "'";
  for (const std::string& bad :
       {std::string(" --quantize gguf:Q2_K --grid frozen"),
        " --quantize gguf:Q2_K --grid fixed --init-weights '" + init + "'",
        " --quantize gptq:w4g128 --grid frozen --init-weights '" + init + "'",
        " --quantize gguf:Q2_K --grid frozen --init-weights '" + s.teacher + "'",
        " --grid frozen --init-weights '" + init + "'"}) {
    INFO(bad);
    const auto refused = mp::test::run_modelpress(run + bad);
    CHECK(refused.exit_code == 3);
    CHECK(std::count(refused.err.begin(), refused.err.end(), '\n') == 1);
    CHECK_FALSE(std::filesystem::exists(s.dir.path("bad")));
  }
  // An HF directory as --init-weights: the grid is re-chosen by default.
  const auto rechosen = mp::test::run_modelpress(s.common + " --steps 1 --quantize gguf:Q2_K --init-weights '" +
                                                 s.teacher + "' --out '" + s.dir.path("hf-init") + "'");
  REQUIRE(rechosen.exit_code == 0);
  CHECK(nlohmann::json::parse(rechosen.out)["grid"] == "rechosen");
}
