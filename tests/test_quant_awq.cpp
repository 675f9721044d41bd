// AWQ: scale folding leaves the float model unchanged, α = 0 without clipping is plain RTN, the
// searches only ever lower their losses, and AWQ checkpoints load back to the weights written.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <fstream>

#include "formats/awq_checkpoint.h"
#include "lib/runtime/hf_model_source.h"
#include "lib/runtime/llama_model.h"
#include "quant/awq.h"
#include "quant/quantize_model.h"
#include "quant/rtn.h"
#include "tests/test_support.h"

namespace {

std::shared_ptr<const mp::ModelSource> stories() { return mp::open_model(mp::test::shared_path("models/stories260K")); }

std::shared_ptr<mp::AffineGrid> grid4(int64_t group = 32) {
  mp::AffineGridOptions options;
  options.bits = 4;
  options.group_size = group;
  return std::make_shared<mp::AffineGrid>(options);
}

double relative_difference(const at::Tensor& a, const at::Tensor& b) {
  return ((a - b).norm() / b.norm()).item<double>();
}

// Keeps what the driver hands to a sink, to compare two runs.
struct RecordingSink : mp::QuantizedModelSink {
  std::vector<std::map<std::string, mp::QuantizedLinear>> layers;
  void add_linear(int64_t index, const std::string& suffix, const mp::QuantizedLinear& q) override {
    if (static_cast<int64_t>(layers.size()) <= index) layers.resize(index + 1);
    layers[index].emplace(suffix, q);
  }
  void write_layer(int64_t, const mp::DecoderLayerWeights&, const nlohmann::json&) override {}
  void commit(const mp::ModelSource&, const nlohmann::json&) override {}
};

mp::QuantizePlan small_plan(mp::QuantMethod method) {
  mp::QuantizePlan plan;
  plan.method = method;
  plan.grid.bits = 4;
  plan.grid.group_size = 32;
  plan.calibration.file = mp::test::shared_path("corpora/tinystories/calib.txt");
  plan.calibration.samples = 8;
  plan.calibration.seqlen = 64;
  return plan;
}

}  // namespace

TEST_CASE("AWQ folding keeps the float layer's outputs (norms, v->o under GQA, up->down)", "[awq]") {
  auto source = stories();
  mp::LlamaModel model(source, mp::RuntimeOptions{});
  const mp::ModelConfig& config = source->config();
  REQUIRE(config.num_kv_heads < config.num_heads);  // exercises the GQA form of v->o
  const mp::DecoderLayerWeights original = model.load_layer(1);
  at::manual_seed(3);
  const at::Tensor hidden = at::randn({2, 16, config.hidden_size});
  const at::Tensor expected = mp::decoder_layer_forward(config, original, model.rope(), hidden, 0);

  mp::DecoderLayerWeights folded = original;
  for (const auto& group : mp::awq_scaling_groups(config)) {
    const int64_t channels = group.previous == mp::ScaledOp::v_proj ? config.kv_size()
                             : group.previous == mp::ScaledOp::up_proj ? config.intermediate_size
                                                                       : config.hidden_size;
    mp::fold_scales(config, folded, group, at::exp(at::randn({channels})));  // scales over ~e^±2
  }
  CHECK_FALSE(at::allclose(folded.q, original.q));
  CHECK_FALSE(at::allclose(folded.down, original.down));
  const at::Tensor got = mp::decoder_layer_forward(config, folded, model.rope(), hidden, 0);
  CHECK(relative_difference(got, expected) < 1e-5);
}

TEST_CASE("AWQ search without clipping leaves the float layer's function unchanged", "[awq]") {
  auto source = stories();
  mp::LlamaModel model(source, mp::RuntimeOptions{});
  const mp::ModelConfig& config = source->config();
  const mp::DecoderLayerWeights original = model.load_layer(0);
  const at::Tensor tokens = mp::sample_calibration(source->tokenizer(), small_plan(mp::QuantMethod::rtn).calibration);
  const at::Tensor hidden = model.embed(tokens);
  std::map<std::string, at::Tensor> inputs;
  const at::Tensor expected = mp::decoder_layer_forward(
      config, original, model.rope(), hidden, 0, nullptr,
      [&](const char* name, const at::Tensor& x) { inputs[name] = x.clone(); });
  mp::DecoderLayerWeights w = original;
  mp::AwqOptions options;
  options.clip = false;
  const auto reports = mp::apply_awq(config, w, model.rope(), inputs, [](const std::string&) { return grid4(); },
                                     options, "layer 0");
  REQUIRE(reports.size() == 4);
  for (const auto& r : reports) CHECK(r.loss <= r.loss_at_zero);  // α = 0 is on the grid
  CHECK(relative_difference(mp::decoder_layer_forward(config, w, model.rope(), hidden, 0), expected) < 1e-5);
}

// One linear behind up->down, whose inputs [windows, tokens, ffn] have two channels with large
// activations: the block output is x Wᵀ, so losses can be checked directly.
struct OutlierUpDown {
  mp::ModelConfig config = stories()->config();
  mp::DecoderLayerWeights w;
  at::Tensor x;
  OutlierUpDown(uint64_t seed, int64_t windows, int64_t tokens) {
    at::manual_seed(seed);
    w.up = at::randn({config.intermediate_size, config.hidden_size});
    w.down = at::randn({config.hidden_size, config.intermediate_size});
    x = at::randn({windows, tokens, config.intermediate_size});
    x.select(2, 3).mul_(40);
    x.select(2, 50).mul_(25);
  }
  const mp::ScalingGroup& up_down() const { return mp::awq_scaling_groups(config)[3]; }
};

TEST_CASE("AWQ picks α > 0 and beats RTN when a few input channels carry large activations", "[awq]") {
  const OutlierUpDown c(5, 4, 32);
  mp::RotaryEmbedding rope(c.config);
  const mp::ScalingGroup& up_down = c.up_down();
  const mp::ScaleChoice choice =
      mp::search_scales(c.config, c.w, rope, up_down, c.x, [](const std::string&) { return grid4(); }, {});
  CHECK(choice.alpha > 0);
  // Independent of the search's bookkeeping: fold, round with RTN, compare output errors.
  auto output_error = [&](const at::Tensor& down, const at::Tensor& inputs) {
    return (at::matmul(inputs, mp::quantize_rtn(down, grid4()).dequantize().t()) - at::matmul(c.x, c.w.down.t()))
        .square()
        .mean()
        .item<double>();
  };
  mp::DecoderLayerWeights scaled = c.w;
  mp::fold_scales(c.config, scaled, up_down, choice.scales);
  const double awq = output_error(scaled.down, mp::scaled_inputs(c.config, up_down, c.x, choice.scales));
  const double rtn = output_error(c.w.down, c.x);
  CHECK(awq < 0.9 * rtn);
  CHECK(awq == Approx(choice.loss).epsilon(1e-3));
}

// The search runs its forwards over chunks of windows (16,384 tokens each) and in the inputs'
// compute type; neither may change what it finds.
TEST_CASE("AWQ's search over many windows and in bf16 finds what one f32 pass finds", "[awq]") {
  const OutlierUpDown c(6, 40, 1024);  // 40,960 tokens: three chunks
  mp::RotaryEmbedding rope(c.config);
  const mp::ScalingGroup& up_down = c.up_down();
  auto grid_for = [](const std::string&) { return grid4(); };
  const mp::ScaleChoice f32 = mp::search_scales(c.config, c.w, rope, up_down, c.x, grid_for, {});
  // Independent of the chunks: the chosen α's loss over all tokens at once.
  const at::Tensor columns = f32.scales;
  const at::Tensor trial = mp::quantize_rtn(c.w.down * columns, grid4()).dequantize() / columns;
  const double whole = (at::matmul(c.x, trial.t()) - at::matmul(c.x, c.w.down.t())).square().mean().item<double>();
  CHECK(f32.alpha > 0);
  CHECK(f32.loss == Approx(whole).epsilon(1e-4));
  const mp::ScaleChoice bf16 = mp::search_scales(c.config, c.w, rope, up_down, c.x.to(at::kBFloat16), grid_for, {});
  CHECK(bf16.alpha == f32.alpha);
  CHECK(bf16.loss == Approx(f32.loss).epsilon(0.02));
  CHECK(at::allclose(bf16.scales, f32.scales, 1e-2, 0));
}

TEST_CASE("AWQ clipping lowers the output error and clamps weights no input reaches", "[awq]") {
  at::manual_seed(9);
  at::Tensor w = at::randn({16, 64});
  w.index_put_({0, 5}, 30.0);  // an outlier weight ...
  at::Tensor x = at::randn({256, 64});
  x.select(1, 5).zero_();  // ... on an input that is always zero
  const auto grid = grid4();
  const at::Tensor clipped = mp::clip_weights(w, x, *grid, {});
  CHECK(clipped[0][5].item<double>() < 30.0 * 0.6);  // shrunk to at most the last grid point, 0.55
  CHECK(at::equal(clipped.abs() <= w.abs(), at::ones_like(w, at::kBool)));
  auto error = [&](const at::Tensor& weights) {
    return (at::matmul(x, mp::quantize_rtn(weights, grid).dequantize().t()) - at::matmul(x, w.t())).square().sum().item<double>();
  };
  CHECK(error(clipped) < 0.5 * error(w));
  CHECK_FALSE(mp::awq_clips("self_attn.q_proj"));
  CHECK_FALSE(mp::awq_clips("self_attn.k_proj"));
  CHECK(mp::awq_clips("self_attn.v_proj"));
}

TEST_CASE("AWQ with α = 0 and no clipping is exactly RTN", "[awq]") {
  auto source = stories();
  RecordingSink rtn_sink, awq_sink;
  mp::QuantizePlan rtn = small_plan(mp::QuantMethod::rtn);
  mp::quantize_model(*source, rtn, mp::RuntimeOptions{}, rtn_sink);
  mp::QuantizePlan awq = rtn;
  awq.awq = mp::AwqOptions{};
  awq.awq->scale.grid = 1;
  awq.awq->clip = false;
  mp::quantize_model(*source, awq, mp::RuntimeOptions{}, awq_sink);
  REQUIRE(rtn_sink.layers.size() == awq_sink.layers.size());
  for (size_t i = 0; i < rtn_sink.layers.size(); ++i)
    for (const auto& [name, q] : rtn_sink.layers[i]) {
      const mp::QuantizedLinear& a = awq_sink.layers[i].at(name);
      CHECK(at::equal(a.codes, q.codes));
      CHECK(at::equal(a.scales, q.scales));
      CHECK(at::equal(a.zeros, q.zeros));
    }
}

TEST_CASE("AWQ then RTN weighs its reported errors by the search windows only", "[awq]") {
  // RTN reads no inputs, so the Hessians weight only the reported errors. With α = 0 and no clipping
  // the weights are RTN's: over every window the errors are RTN's, over one window they differ.
  auto source = stories();
  mp::QuantizePlan rtn = small_plan(mp::QuantMethod::rtn);
  RecordingSink rtn_sink;
  const mp::QuantizeReport plain = mp::quantize_model(*source, rtn, mp::RuntimeOptions{}, rtn_sink);
  auto awq_errors = [&](int64_t search_tokens) {
    mp::QuantizePlan awq = rtn;
    awq.awq = mp::AwqOptions{};
    awq.awq->scale.grid = 1;
    awq.awq->clip = false;
    awq.awq->search_tokens = search_tokens;
    RecordingSink sink;
    return mp::quantize_model(*source, awq, mp::RuntimeOptions{}, sink).linears;
  };
  const auto every_window = awq_errors(0), one_window = awq_errors(64);
  REQUIRE(plain.linears.size() == every_window.size());
  REQUIRE(plain.linears.size() == one_window.size());
  int differing = 0;
  for (size_t k = 0; k < plain.linears.size(); ++k) {
    INFO(plain.linears[k].module);
    CHECK(every_window[k].relative_error == plain.linears[k].relative_error);
    differing += one_window[k].relative_error != plain.linears[k].relative_error;
  }
  CHECK(differing == static_cast<int>(plain.linears.size()));
}

TEST_CASE("AWQ GEMM checkpoints load back to the same weights as the GPTQ checkpoint of the same run", "[awq]") {
  // Two independent packers (GPTQ packs along the input, AWQ along the output in 0,2,4,6,1,3,5,7
  // order) and two loaders must agree on every weight, padded gate/up (172 outputs) included.
  auto source = stories();
  mp::test::ScratchDir dir;
  mp::QuantizePlan plan = small_plan(mp::QuantMethod::rtn);
  plan.grid.sym = false;
  plan.awq = mp::AwqOptions{};
  plan.awq->scale.grid = 4;
  {
    mp::AwqCheckpointSink sink(dir.path("awq"), source->config(), plan);
    mp::quantize_model(*source, plan, mp::RuntimeOptions{}, sink);
  }
  {
    mp::GptqCheckpointSink sink(dir.path("gptq"), source->config(), plan);
    mp::quantize_model(*source, plan, mp::RuntimeOptions{}, sink);
  }
  nlohmann::json config;
  std::ifstream(dir.path("awq/config.json")) >> config;
  const auto& qc = config.at("quantization_config");
  CHECK(qc.at("quant_method") == "awq");
  CHECK(qc.at("version") == "gemm");
  CHECK(qc.at("bits") == 4);
  CHECK(qc.at("group_size") == 32);
  CHECK(qc.at("zero_point") == true);
  CHECK(qc.at("modelpress_padded_modules").size() == 2 * 5);  // gate and up of every layer
  mp::HfModelSource awq(dir.path("awq")), gptq(dir.path("gptq"));
  const at::Tensor qweight = awq.checkpoint().tensor("model.layers.0.mlp.up_proj.qweight");
  CHECK(qweight.sizes() == at::IntArrayRef({64, 176 / 8}));
  CHECK(awq.checkpoint().tensor("model.layers.0.mlp.down_proj.scales").sizes() == at::IntArrayRef({6, 64}));
  for (const char* name : {"model.layers.0.self_attn.q_proj.weight", "model.layers.2.mlp.up_proj.weight",
                           "model.layers.4.mlp.down_proj.weight", "model.layers.3.input_layernorm.weight"}) {
    const at::Tensor a = awq.tensor(name), g = gptq.tensor(name);
    CHECK(a.sizes() == g.sizes());
    CHECK(at::equal(a, g));
  }
  CHECK_FALSE(at::equal(awq.tensor("model.layers.3.input_layernorm.weight"),
                        source->tensor("model.layers.3.input_layernorm.weight")));  // the scales were folded
}

TEST_CASE("AWQ's searches read the first windows that hold --search-tokens", "[awq]") {
  const at::Tensor states = at::arange(8 * 64 * 3, at::kFloat).reshape({8, 64, 3});
  CHECK(mp::awq_search_states(states, 0).size(0) == 8);
  CHECK(mp::awq_search_states(states, 1).size(0) == 1);
  CHECK(mp::awq_search_states(states, 64).size(0) == 1);
  CHECK(mp::awq_search_states(states, 65).size(0) == 2);
  CHECK(mp::awq_search_states(states, 1 << 30).size(0) == 8);
  CHECK(at::equal(mp::awq_search_states(states, 100), states.narrow(0, 0, 2)));

  // On stories260K (8 windows of 64): a budget that covers every window is the full search,
  // exactly; one window gives other search losses.
  auto source = stories();
  auto run = [&](int64_t search_tokens, int64_t tokens_read) {
    mp::QuantizePlan plan = small_plan(mp::QuantMethod::rtn);
    plan.grid.sym = false;
    plan.awq = mp::AwqOptions{};
    plan.awq->scale.grid = 4;
    plan.awq->search_tokens = search_tokens;
    RecordingSink sink;
    const mp::QuantizeReport report = mp::quantize_model(*source, plan, mp::RuntimeOptions{}, sink);
    // RTN after AWQ reads nothing past the search windows, so no other window is carried through.
    CHECK(report.calibration_tokens == tokens_read);
    return report.awq;
  };
  const auto all = run(0, 8 * 64), covering = run(8 * 64, 8 * 64), one = run(64, 64);
  REQUIRE(all.size() == covering.size());
  REQUIRE(all.size() == one.size());
  int differing = 0;
  for (size_t k = 0; k < all.size(); ++k) {
    CHECK(all[k].alpha == covering[k].alpha);
    CHECK(all[k].loss == covering[k].loss);
    differing += all[k].loss != one[k].loss;
  }
  CHECK(differing == static_cast<int>(all.size()));
}
