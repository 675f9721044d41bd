// Quantization-aware distillation from a GGUF file on its own terms (docs/qad.md): the hybrid grid
// (per super-block the better of the file's stored parameters and the encoder's re-chosen ones)
// starts a run at the file's tensor bytes and still moves, its export is the last step's fake
// quantization, and --types-from-init trains and writes the per-tensor types the file stores.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>

#include "distill/fake_quantizer.h"
#include "distill/student_model.h"
#include "distill/token_dataset.h"
#include "formats/gguf_codecs.h"
#include "formats/gguf_export.h"
#include "formats/gguf_file.h"
#include "formats/gguf_stored_grids.h"
#include "formats/safetensors.h"
#include "lib/runtime/llama_model.h"
#include "tests/qad_teacher.h"
#include "tests/test_support.h"

namespace {

const char* kQProj = "model.layers.0.self_attn.q_proj.weight";

// A random k-quant-shaped teacher (head shrunk tenfold, as in test_qad.cpp), its tokens, and the
// teacher exported as `type` with `tensor_types` overrides: the GGUF a run starts from.
struct HybridSetup {
  mp::test::ScratchDir dir;
  std::string teacher, init, base, common;  // common = base + --init-weights init
  HybridSetup(const std::string& type, const std::vector<std::string>& tensor_types) {
    teacher = dir.path("teacher");
    mp::test::write_qad_teacher(teacher, dir.path("tokens.h5"), mp::test::kquant_config());
    mp::GgufExportOptions options;
    options.type = mp::parse_gguf_export_type(type, false);
    for (const std::string& spec : tensor_types) options.type.overrides.add_tensor_type("--tensor-type", spec);
    init = dir.path("init.gguf");
    mp::export_gguf(*mp::open_model(teacher), init, options);
    base = "distill-train --student '" + teacher + "' --teacher '" + teacher + "' --data '" + dir.path("tokens.h5") +
           "' --seq 32 --batch 2 --warmup 0 --threads 1 --quiet --json --seed 1";
    common = base + " --init-weights '" + init + "'";
  }
};

at::Tensor sample_tokens() { return at::arange(3, 3 + 48, at::kLong).remainder(251).unsqueeze(0); }

// Every tensor's type and data bytes, by GGUF name.
std::map<std::string, std::pair<mp::GgmlType, std::vector<uint8_t>>> tensor_bytes(const std::string& path) {
  const mp::GgufFile file(path);
  std::map<std::string, std::pair<mp::GgmlType, std::vector<uint8_t>>> out;
  for (const mp::GgufTensorInfo& info : file.tensors()) {
    const uint8_t* data = file.bytes(info);
    out[info.name] = {info.type, std::vector<uint8_t>(data, data + info.bytes)};
  }
  return out;
}

// decode(encode(w)) of every row through `type`'s codec: what `export --type` writes for w.
at::Tensor encoder_round(mp::GgmlType type, const at::Tensor& w) {
  const at::Tensor x = w.contiguous();
  at::Tensor out = at::empty_like(x);
  std::vector<uint8_t> bytes(mp::ggml_row_bytes(type, x.size(1)));
  for (int64_t r = 0; r < x.size(0); ++r) {
    mp::quantize_row(type, x.data_ptr<float>() + r * x.size(1), bytes.data(), x.size(1));
    mp::dequantize_row(type, bytes.data(), out.data_ptr<float>() + r * x.size(1), x.size(1));
  }
  return out;
}

}  // namespace

TEST_CASE("qad hybrid grid: each super-block keeps the stored parameters unless the search's fit better", "[qad]") {
  HybridSetup s("Q3_K_M", {});
  const auto teacher = mp::open_model(s.teacher);
  const mp::StoredGrids stored = mp::read_stored_grids(s.init, teacher->config(), {{kQProj, mp::GgmlType::Q3_K}});
  const std::shared_ptr<const mp::GgufBlockGrid> file_grid = stored.at(kQProj);

  // On the file's own decoded weights every block keeps the file's parameters (error 0).
  const at::Tensor start = mp::open_model(s.init)->tensor(kQProj);
  at::manual_seed(7);
  CHECK(mp::better_grid_per_block(file_grid, start)->stored().equal(file_grid->stored()));

  // On moved weights each block is the better of the two roundings, and both sides occur.
  const at::Tensor moved = start + 0.3 * (teacher->tensor(kQProj) - start) + 0.002 * at::randn(start.sizes());
  const at::Tensor on_file = mp::level_on_bound_grid(file_grid, moved).dequantize();
  const at::Tensor by_encoder = encoder_round(mp::GgmlType::Q3_K, moved);
  const at::Tensor hybrid = mp::level_on_bound_grid(mp::better_grid_per_block(file_grid, moved), moved).dequantize();
  const auto block_error = [&](const at::Tensor& q) {
    return (moved - q).to(at::kDouble).pow(2).reshape({moved.size(0), -1, 256}).sum(-1);
  };
  const at::Tensor err_file = block_error(on_file), err_encoder = block_error(by_encoder);
  const at::Tensor take_encoder = err_encoder < err_file;
  const at::Tensor expected = at::where(take_encoder.unsqueeze(-1), by_encoder.reshape({moved.size(0), -1, 256}),
                                        on_file.reshape({moved.size(0), -1, 256}))
                                  .reshape(moved.sizes());
  CHECK(hybrid.equal(expected));
  const int64_t encoder_blocks = take_encoder.sum().item<int64_t>();
  CHECK(encoder_blocks > 0);
  CHECK(encoder_blocks < take_encoder.numel());
}

TEST_CASE("qad hybrid grid: step 0 writes the init file's bytes, and the export is the last step's rounding", "[qad]") {
  HybridSetup s("Q3_K_M", {});
  const auto teacher = mp::open_model(s.teacher);
  const std::string run = s.common + " --quantize gguf:Q3_K_M --grid hybrid --lr 1e-3";
  const auto step0 = mp::test::run_modelpress(run + " --steps 0 --out '" + s.dir.path("step0") + "'");
  REQUIRE(step0.exit_code == 0);
  const auto step0_report = nlohmann::json::parse(step0.out);
  CHECK(step0_report["grid"] == "hybrid");
  const auto init_bytes = tensor_bytes(s.init);
  const bool step0_is_init = tensor_bytes(step0_report["quantized_out"].get<std::string>()) == init_bytes;
  CHECK(step0_is_init);

  const auto trained = mp::test::run_modelpress(run + " --steps 4 --out '" + s.dir.path("trained") + "'");
  REQUIRE(trained.exit_code == 0);
  const std::string file = nlohmann::json::parse(trained.out)["quantized_out"];
  mp::FakeQuantizer hybrid(mp::parse_quantize_target("gguf:Q3_K_M"), teacher->config());
  hybrid.freeze_grids(s.init, "--grid", true);
  mp::StudentModel masters = mp::StudentModel::from_pretrained(s.dir.path("trained"));
  const auto exported = mp::open_model(file);
  for (const std::string& name : mp::llama_parameter_names(teacher->config())) {
    INFO(name);
    CHECK(hybrid.round(name, masters.parameter(name)).equal(exported->tensor(name)));
  }
  masters.set_weight_view([&](const std::string& name, const at::Tensor& w) { return hybrid.apply(name, w); });
  at::NoGradGuard no_grad;
  mp::LlamaModel decoded(exported, mp::RuntimeOptions{});
  CHECK((masters.forward(sample_tokens(), at::kFloat) - decoded.forward(sample_tokens())).abs().max().item<double>() < 1e-4);

  // The run moved: some tensor's stored parameters are no longer all the init file's.
  const mp::StoredGrids written = mp::read_stored_grids(file, teacher->config(), [&] {
    std::map<std::string, mp::GgmlType> types;
    for (const auto& [name, grid] : hybrid.frozen_grids()) types[name] = grid->type();
    return types;
  }());
  int64_t changed = 0;
  for (const auto& [name, grid] : hybrid.frozen_grids()) changed += !written.at(name)->stored().equal(grid->stored());
  CHECK(changed > 0);
}

TEST_CASE("qad --types-from-init: the run trains and writes the per-tensor types the init file stores", "[qad]") {
  // Not Q3_K_M's mix: layer 0's q_proj in q2_K, every ffn_down in q6_K.
  HybridSetup s("Q3_K_M", {"blk\\.0\\.attn_q=q2_K", "ffn_down=q6_K"});
  const auto init_bytes = tensor_bytes(s.init);
  const std::string run = s.common + " --quantize gguf:Q3_K_M --steps 0";
  const auto own = mp::test::run_modelpress(run + " --types-from-init --out '" + s.dir.path("own") + "'");
  REQUIRE(own.exit_code == 0);
  const auto report = nlohmann::json::parse(own.out);
  CHECK(report["quantized_grids"]["q6_K"].get<int64_t>() >= mp::open_model(s.teacher)->config().num_layers);
  const bool same_file = tensor_bytes(report["quantized_out"].get<std::string>()) == init_bytes;
  CHECK(same_file);  // frozen grid, same types

  const auto mix = mp::test::run_modelpress(run + " --out '" + s.dir.path("mix") + "'");
  REQUIRE(mix.exit_code == 0);
  const auto mix_bytes = tensor_bytes(nlohmann::json::parse(mix.out)["quantized_out"].get<std::string>());
  const bool mix_type_differs = mix_bytes.at("blk.0.attn_q.weight").first != init_bytes.at("blk.0.attn_q.weight").first;
  CHECK(mix_type_differs);  // q3_K in the mix, q2_K in the init file

  for (const std::string& bad :
       {s.base + " --types-from-init --quantize gguf:Q3_K_M",                                  // no file to read
        s.base + " --types-from-init --quantize gguf:Q3_K_M --init-weights '" + s.teacher + "'",  // not a GGUF
        s.common + " --types-from-init --quantize gptq:w4g128", s.common + " --types-from-init"}) {
    INFO(bad);
    const auto refused = mp::test::run_modelpress(bad + " --steps 1 --out '" + s.dir.path("bad") + "'");
    CHECK(refused.exit_code == 3);
    CHECK(std::count(refused.err.begin(), refused.err.end(), '\n') == 1);
    CHECK_FALSE(std::filesystem::exists(s.dir.path("bad")));
  }
}
