// Each architecture of lib/arch/ beyond Llama through every tool: AWQ's folding keeps a layer's
// function (norms of either form, windows shorter than the input), GPTQ and AWQ checkpoints load
// and stay close to the float model, GGUF export reads back with the same logits, and
// distill-train trains a student of the architecture that the runtime reads back.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "distill/student_model.h"
#include "distill/token_dataset.h"
#include "formats/gguf_export.h"
#include "lib/runtime/llama_model.h"
#include "quant/awq.h"
#include "tests/architecture_cases.h"
#include "tests/test_support.h"

using namespace mp;

namespace {

double relative_difference(const at::Tensor& a, const at::Tensor& b) { return ((a - b).norm() / b.norm()).item<double>(); }

at::Tensor some_tokens(int64_t n) {
  at::manual_seed(2);
  return at::randint(3, 512, {1, n}, at::kLong);
}

}  // namespace

TEST_CASE("architectures: AWQ folding keeps every layer's function", "[arch][awq]") {
  for (const test::ArchitectureCase& c : test::architecture_cases()) {
    INFO(c.name);
    test::ScratchDir dir;
    LlamaModel model(open_model(test::write_architecture_model(dir, c)), RuntimeOptions{});
    const ModelConfig& config = model.config();
    at::manual_seed(3);
    const at::Tensor hidden = at::randn({2, 12, config.hidden_size});
    for (int64_t layer = 0; layer < config.num_layers; ++layer) {
      INFO("layer " << layer);
      const DecoderLayerWeights original = model.load_layer(layer);
      const at::Tensor expected = decoder_layer_forward(config, original, model.rope(), hidden, 0);
      DecoderLayerWeights folded = original;
      for (const ScalingGroup& group : awq_scaling_groups(config)) {
        const int64_t channels = group.previous == ScaledOp::v_proj    ? config.kv_size()
                                 : group.previous == ScaledOp::up_proj ? config.intermediate_size
                                                                       : config.hidden_size;
        fold_scales(config, folded, group, at::exp(at::randn({channels})));
      }
      CHECK_FALSE(at::allclose(folded.input_norm, original.input_norm));
      CHECK(relative_difference(decoder_layer_forward(config, folded, model.rope(), hidden, 0), expected) < 1e-5);
    }
  }
}

TEST_CASE("architectures: GPTQ and AWQ checkpoints load and stay close to the float model", "[arch][quantize]") {
  const std::string calib = test::shared_path("corpora/tinystories/calib.txt");
  for (const test::ArchitectureCase& c : test::architecture_cases()) {
    INFO(c.name);
    test::ScratchDir dir;
    const std::string model = test::write_architecture_model(dir, c);
    LlamaModel reference(open_model(model), RuntimeOptions{});
    const at::Tensor tokens = some_tokens(24);
    const at::Tensor expected = reference.forward(tokens);
    for (const auto& [method, bits, bound] : {std::tuple{"gptq", 8, 0.02}, {"gptq", 4, 0.3}, {"awq", 4, 0.3}}) {
      INFO(method << " " << bits << " bits");
      const std::string out = dir.path(std::string(method) + std::to_string(bits));
      const auto r = test::run_modelpress("quantize -q --method " + std::string(method) + " -m '" + model + "' -o '" +
                                          out + "' --bits " + std::to_string(bits) +
                                          " --group-size 16 --nsamples 8 --seqlen 32 --calib '" + calib + "'");
      INFO(r.err);
      REQUIRE(r.exit_code == 0);
      LlamaModel quantized(open_model(out), RuntimeOptions{});
      const double difference = relative_difference(quantized.forward(tokens), expected);
      CHECK(difference > 0);
      CHECK(difference < bound);
    }
  }
}

TEST_CASE("architectures: GGUF export reads back with the logits of the checkpoint", "[arch][gguf_export]") {
  for (test::ArchitectureCase c : test::architecture_cases()) {
    INFO(c.name);
    // llama.cpp's qwen3 has no window, so its export refuses one (tests/test_gguf_export_arch.cpp).
    if (c.name == "qwen3") c.config["use_sliding_window"] = false;
    test::ScratchDir dir;
    const std::string model = test::write_architecture_model(dir, c);
    GgufExportOptions options;
    options.type = parse_gguf_export_type("F32", false);
    export_gguf(*open_model(model), dir.path("m.gguf"), options);
    LlamaModel a(open_model(model), RuntimeOptions{}), b(open_model(dir.path("m.gguf")), RuntimeOptions{});
    CHECK(b.config().model_type == a.config().model_type);
    for (int64_t i = 0; i < a.config().num_layers; ++i) CHECK(b.config().attention_window(i) == a.config().attention_window(i));
    const at::Tensor tokens = some_tokens(24);
    CHECK((a.forward(tokens) - b.forward(tokens)).abs().max().item<double>() < 1e-4);
  }
}

TEST_CASE("architectures: distill-train trains a student of each and the runtime reads it back", "[arch][distill]") {
  for (const test::ArchitectureCase& c : test::architecture_cases()) {
    INFO(c.name);
    test::ScratchDir dir;
    {
      TokenDatasetWriter writer(dir.path("tokens.h5"), "tok");
      for (int d = 0; d < 12; ++d) {
        std::vector<int32_t> doc(200);
        for (size_t i = 0; i < doc.size(); ++i) doc[i] = static_cast<int32_t>((i * 7 + d * 3) % 97 + 3);
        writer.add_document(doc);
      }
      writer.commit();
    }
    std::ofstream(dir.path("config.json")) << c.config.dump();
    const std::string run = "distill-train --student-config '" + dir.path("config.json") + "' --data '" +
                            dir.path("tokens.h5") + "' --seq 32 --warmup 2 --threads 1 --quiet --seed 3 --batch 2 --json";
    const auto first = test::run_modelpress(run + " --steps 1 --lr 0 --out '" + dir.path("a") + "'");
    REQUIRE(first.exit_code == 0);
    const auto trained = test::run_modelpress(run + " --steps 20 --lr 1e-2 --out '" + dir.path("b") + "'");
    INFO(trained.err);
    REQUIRE(trained.exit_code == 0);
    const double start = nlohmann::json::parse(first.out)["final_train_loss"].get<double>();
    const double end = nlohmann::json::parse(trained.out)["final_train_loss"].get<double>();
    INFO("loss " << start << " -> " << end);
    CHECK(end < 0.8 * start);
    StudentModel student = StudentModel::from_pretrained(dir.path("b"));
    LlamaModel runtime(open_model(dir.path("b")), RuntimeOptions{});
    const at::Tensor tokens = some_tokens(20);
    at::NoGradGuard no_grad;
    CHECK(at::allclose(runtime.forward(tokens), student.forward(tokens, at::kFloat), 1e-5, 1e-4));
  }
}
