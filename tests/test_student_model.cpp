// The trainable student against the inference runtime (itself checked against llama.cpp): same
// logits, depth pruning keeps the right layers, gradients match finite differences, and a saved
// student is an HF directory the runtime reads back.
#include <catch2/catch.hpp>

#include <filesystem>

#include "distill/student_model.h"
#include "lib/runtime/llama_model.h"
#include "tests/test_support.h"

namespace {

at::Tensor sample_tokens(int64_t vocab, int64_t b, int64_t t, uint64_t seed) {
  at::manual_seed(seed);
  return at::randint(1, vocab, {b, t}, at::kLong);
}

}  // namespace

TEST_CASE("student logits equal the runtime's for stories260K", "[distill][student]") {
  const std::string dir = mp::test::shared_path("models/stories260K");
  mp::StudentModel student = mp::StudentModel::from_pretrained(dir);
  mp::LlamaModel runtime(mp::open_model(dir), {});
  const at::Tensor tokens = sample_tokens(512, 2, 40, 1);
  at::NoGradGuard no_grad;
  CHECK(at::allclose(student.forward(tokens, at::kFloat), runtime.forward(tokens), 1e-5, 1e-4));
  // bf16 compute stays close to f32 (a loose bound: bf16 keeps 8 bits of mantissa).
  const at::Tensor bf16 = student.forward(tokens, at::kBFloat16);
  CHECK(bf16.scalar_type() == at::kFloat);
  CHECK((bf16 - runtime.forward(tokens)).abs().max().item<double>() < 0.5);
}

TEST_CASE("a student from teacher layers 0,2,4 runs exactly those layers", "[distill][student]") {
  const std::string dir = mp::test::shared_path("models/stories260K");
  mp::StudentModel student = mp::StudentModel::from_teacher_layers(dir, {0, 2, 4});
  CHECK(student.config().num_layers == 3);
  CHECK(student.parameters().size() == 1 + 3 * 9 + 1);  // tied embeddings: no lm_head
  mp::LlamaModel teacher(mp::open_model(dir), {});
  const at::Tensor tokens = sample_tokens(512, 1, 30, 2);
  at::NoGradGuard no_grad;
  at::Tensor h = teacher.embed(tokens);
  for (int64_t layer : {0, 2, 4}) h = teacher.run_layer(layer, h, 0);
  CHECK(at::allclose(student.forward(tokens, at::kFloat), teacher.logits(h), 1e-5, 1e-4));
  CHECK_THROWS_WITH(mp::StudentModel::from_teacher_layers(dir, {0, 5}), Catch::Contains("--keep-layers"));
}

TEST_CASE("student gradients match finite differences", "[distill][student]") {
  const std::string model_type = GENERATE("llama", "qwen2");  // qwen2: q/k/v biases
  auto config = mp::ModelConfig::from_json(mp::test::tiny_config(model_type), "tiny");
  mp::StudentModel student = mp::StudentModel::from_config(config, 7, "");
  {
    // HF's init (std 0.02) leaves the logits nearly flat; larger weights exercise every path.
    at::NoGradGuard no_grad;
    for (auto& p : student.parameters())
      if (p.second.dim() == 2) p.second.mul_(15.0);
  }
  const at::Tensor tokens = sample_tokens(config.vocab_size, 1, 12, 3);
  at::manual_seed(5);
  const at::Tensor readout = at::randn({1, 12, config.vocab_size});
  auto loss = [&] { return (student.forward(tokens, at::kFloat) * readout).sum() / 12.0; };
  loss().backward();
  std::vector<std::string> names{"model.layers.1.self_attn.k_proj.weight", "model.layers.0.mlp.down_proj.weight",
                                 "model.embed_tokens.weight", "model.norm.weight"};
  if (model_type == "qwen2") names.insert(names.end(), {"model.layers.0.self_attn.q_proj.bias", "model.layers.1.self_attn.v_proj.bias"});
  for (const auto& name : names) {
    at::Tensor& p = student.parameter(name);
    // Directional derivative along a random direction, central difference in f32.
    at::manual_seed(11);
    const at::Tensor d = at::randn_like(p) / std::sqrt(static_cast<double>(p.numel()));
    const double analytic = (p.grad() * d).sum().item<double>();
    const double eps = 1e-3;
    double up, down;
    {
      at::NoGradGuard no_grad;
      p.add_(d, eps);
      up = loss().item<double>();
      p.add_(d, -2 * eps);
      down = loss().item<double>();
      p.add_(d, eps);
    }
    const double numeric = (up - down) / (2 * eps);
    INFO(name << ": analytic " << analytic << ", numeric " << numeric);
    CHECK(std::abs(analytic) > 1e-2);
    CHECK(numeric == Approx(analytic).epsilon(0.02).margin(1e-3));
  }
}

TEST_CASE("a saved student is an HF directory the runtime reads", "[distill][student]") {
  mp::test::ScratchDir dir;
  const std::string teacher = mp::test::shared_path("models/stories260K");
  mp::StudentModel student = mp::StudentModel::from_teacher_layers(teacher, {1, 3});
  {
    at::NoGradGuard no_grad;
    student.parameter("model.layers.0.mlp.up_proj.weight").mul_(1.5);  // differ from the teacher
  }
  student.save(dir.path());
  CHECK(std::filesystem::exists(dir.path("tokenizer.model")));
  auto source = mp::open_model(dir.path());
  CHECK(source->config().num_layers == 2);
  mp::LlamaModel reloaded(source, {});
  const at::Tensor tokens = sample_tokens(512, 1, 20, 4);
  at::NoGradGuard no_grad;
  CHECK(at::allclose(reloaded.forward(tokens), student.forward(tokens, at::kFloat), 1e-6, 1e-5));
}

TEST_CASE("a qwen2 student has q/k/v biases, and the runtime reads them back", "[distill][student]") {
  mp::test::ScratchDir dir;
  auto config = mp::ModelConfig::from_json(mp::test::tiny_config("qwen2"), "tiny");
  mp::StudentModel student = mp::StudentModel::from_config(config, 9, "");
  // Per layer: 2 norms, 7 weights and 3 biases; plus embeddings, final norm and the untied head.
  CHECK(student.parameters().size() == 1 + 2 * 12 + 1 + 1);
  CHECK(student.parameter("model.layers.1.self_attn.k_proj.bias").sizes() == at::IntArrayRef{config.kv_size()});
  CHECK(student.parameter("model.layers.0.self_attn.q_proj.bias").abs().max().item<double>() == 0);  // HF init
  CHECK_THROWS(student.parameter("model.layers.0.self_attn.o_proj.bias"));  // qwen2 has none
  {
    at::NoGradGuard no_grad;
    at::manual_seed(21);
    for (auto& [name, p] : student.parameters())
      if (name.find(".bias") != std::string::npos) p.copy_(at::randn_like(p));
  }
  student.save(dir.path());
  const at::Tensor tokens = sample_tokens(config.vocab_size, 2, 16, 6);
  at::NoGradGuard no_grad;
  const at::Tensor expected = student.forward(tokens, at::kFloat);
  mp::LlamaModel runtime(mp::open_model(dir.path()), {});
  CHECK(at::allclose(runtime.forward(tokens), expected, 1e-6, 1e-5));
  // The biases matter: zeroing them changes the logits.
  mp::StudentModel reloaded = mp::StudentModel::from_pretrained(dir.path());
  CHECK(at::allclose(reloaded.forward(tokens, at::kFloat), expected, 1e-6, 1e-5));
  reloaded.parameter("model.layers.0.self_attn.v_proj.bias").zero_();
  CHECK_FALSE(at::allclose(reloaded.forward(tokens, at::kFloat), expected, 1e-3, 1e-3));
}
