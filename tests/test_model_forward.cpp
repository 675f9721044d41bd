// The runtime's forward pass against a slow, plainly written double-precision reference, on small
// random models covering GQA, q/k/v biases, tied/untied embeddings and llama3 rope scaling; and
// incremental decoding against the full forward.
#include <cmath>

#include "lib/runtime/llama_model.h"
#include "tests/test_support.h"

using namespace mp;

namespace {

// Rotary embedding in HF's rotate-half layout: dimension i pairs with i + d/2.
std::vector<double> reference_inv_freq(const ModelConfig& c) {
  std::vector<double> f(c.head_dim / 2);
  for (size_t i = 0; i < f.size(); ++i) {
    f[i] = 1.0 / std::pow(c.rope_theta, 2.0 * i / c.head_dim);
    if (c.llama3_rope) {
      const auto& s = *c.llama3_rope;
      const double wavelen = 2 * M_PI / f[i];
      const double low = s.original_max_position_embeddings / s.low_freq_factor;
      const double high = s.original_max_position_embeddings / s.high_freq_factor;
      if (wavelen > low) {
        f[i] /= s.factor;
      } else if (wavelen >= high) {
        const double smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) /
                              (s.high_freq_factor - s.low_freq_factor);
        f[i] = (1 - smooth) * f[i] / s.factor + smooth * f[i];
      }
    }
  }
  return f;
}

at::Tensor reference_forward(const ModelConfig& c, std::map<std::string, at::Tensor> w, const std::vector<int64_t>& tokens) {
  for (auto& kv : w) kv.second = kv.second.to(at::kDouble);
  const int64_t t = static_cast<int64_t>(tokens.size()), d = c.head_dim;
  auto norm = [&](const at::Tensor& x, const at::Tensor& g) {
    return x / (x.pow(2).mean(-1, true) + c.rms_norm_eps).sqrt() * g;
  };
  auto lin = [&](const at::Tensor& x, const std::string& name) {
    at::Tensor y = at::matmul(x, w.at(name + ".weight").t());
    return w.count(name + ".bias") ? y + w.at(name + ".bias") : y;
  };
  const auto inv_freq = reference_inv_freq(c);
  auto rope = [&](at::Tensor x) {  // x: [T, d]
    at::Tensor out = x.clone();
    for (int64_t p = 0; p < t; ++p)
      for (int64_t i = 0; i < d / 2; ++i) {
        const double a = p * inv_freq[i], x1 = x[p][i].item<double>(), x2 = x[p][i + d / 2].item<double>();
        out[p][i] = x1 * std::cos(a) - x2 * std::sin(a);
        out[p][i + d / 2] = x2 * std::cos(a) + x1 * std::sin(a);
      }
    return out;
  };
  at::Tensor x = w.at("model.embed_tokens.weight").index_select(0, at::tensor(tokens, at::kLong));
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    at::Tensor h = norm(x, w.at(p + "input_layernorm.weight"));
    at::Tensor q = lin(h, p + "self_attn.q_proj"), k = lin(h, p + "self_attn.k_proj"), v = lin(h, p + "self_attn.v_proj");
    std::vector<at::Tensor> heads;
    for (int64_t head = 0; head < c.num_heads; ++head) {
      const int64_t kv_head = head / (c.num_heads / c.num_kv_heads);
      at::Tensor qh = rope(q.narrow(1, head * d, d)), kh = rope(k.narrow(1, kv_head * d, d));
      at::Tensor vh = v.narrow(1, kv_head * d, d);
      at::Tensor scores = at::matmul(qh, kh.t()) / std::sqrt(static_cast<double>(d));
      for (int64_t i = 0; i < t; ++i)
        for (int64_t j = i + 1; j < t; ++j) scores[i][j] = -INFINITY;
      heads.push_back(at::matmul(at::softmax(scores, -1), vh));
    }
    x = x + lin(at::cat(heads, 1), p + "self_attn.o_proj");
    h = norm(x, w.at(p + "post_attention_layernorm.weight"));
    at::Tensor g = lin(h, p + "mlp.gate_proj");
    x = x + lin(g * at::sigmoid(g) * lin(h, p + "mlp.up_proj"), p + "mlp.down_proj");
  }
  x = norm(x, w.at("model.norm.weight"));
  const std::string head = w.count("lm_head.weight") ? "lm_head.weight" : "model.embed_tokens.weight";
  return at::matmul(x, w.at(head).t());
}

void check_against_reference(const nlohmann::json& config_json) {
  test::ScratchDir dir;
  auto weights = test::write_random_model(dir.path("m"), config_json, 7);
  auto source = open_model(dir.path("m"));
  LlamaModel model(source, RuntimeOptions{});
  std::vector<int64_t> tokens = {1, 17, 300, 4, 99, 511, 23, 8, 42, 250, 3, 77};
  at::Tensor got = model.forward(at::tensor(tokens, at::kLong).unsqueeze(0))[0].to(at::kDouble);
  at::Tensor want = reference_forward(source->config(), weights, tokens);
  const double err = (got - want).abs().max().item<double>();
  INFO("max |logit difference| = " << err);
  CHECK(err < 1e-3);
  CHECK(want.abs().max().item<double>() > 0.1);  // the comparison is not between near-zero tensors
}

}  // namespace

TEST_CASE("forward matches the reference: llama with GQA and untied embeddings", "[model]") {
  check_against_reference(test::tiny_config("llama"));
}

TEST_CASE("forward matches the reference: tied embeddings use the embedding matrix as LM head", "[model]") {
  auto c = test::tiny_config("llama");
  c["tie_word_embeddings"] = true;
  check_against_reference(c);
}

TEST_CASE("forward matches the reference: qwen2 q/k/v biases", "[model]") {
  check_against_reference(test::tiny_config("qwen2"));
}

TEST_CASE("forward matches the reference: mistral without GQA", "[model]") {
  auto c = test::tiny_config("mistral");
  c["num_key_value_heads"] = 4;
  check_against_reference(c);
}

TEST_CASE("forward matches the reference: llama3 rope scaling", "[model]") {
  auto c = test::tiny_config("llama");
  c["rope_theta"] = 500000.0;
  // Small original context so that all three frequency bands occur at head_dim 8.
  c["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 64}};
  check_against_reference(c);
  ModelConfig parsed = ModelConfig::from_json(c, "config.json");
  RotaryEmbedding rope(parsed);
  at::Tensor plain = 1.0 / at::pow(500000.0, at::arange(0, 8, 2).to(at::kFloat) / 8.0);
  CHECK_FALSE(at::allclose(rope.inverse_frequencies(), plain));  // scaling changed something
}

TEST_CASE("incremental decoding with the KV cache equals the full forward", "[model]") {
  test::ScratchDir dir;
  test::write_random_model(dir.path("m"), test::tiny_config("llama"), 3);
  LlamaModel model(open_model(dir.path("m")), RuntimeOptions{});
  std::vector<int64_t> tokens = {1, 5, 9, 200, 31, 64, 128, 7};
  at::Tensor full = model.forward(at::tensor(tokens, at::kLong).unsqueeze(0))[0];
  KVCache cache;
  at::Tensor prefix = model.forward(at::tensor(std::vector<int64_t>(tokens.begin(), tokens.begin() + 5), at::kLong).unsqueeze(0), 0, &cache)[0];
  CHECK(at::allclose(prefix, full.narrow(0, 0, 5), 1e-4, 1e-4));
  for (int64_t p = 5; p < 8; ++p) {
    at::Tensor step = model.forward(at::full({1, 1}, tokens[p], at::kLong), p, &cache)[0][0];
    CHECK(at::allclose(step, full[p], 1e-4, 1e-4));
  }
}

TEST_CASE("bf16 compute stays close to f32", "[model]") {
  test::ScratchDir dir;
  test::write_random_model(dir.path("m"), test::tiny_config("llama"), 5);
  auto source = open_model(dir.path("m"));
  LlamaModel f32(source, RuntimeOptions{});
  LlamaModel bf16(source, parse_runtime_options("cpu", "bf16"));
  at::Tensor tokens = at::tensor(std::vector<int64_t>{1, 2, 3, 4, 5, 6}, at::kLong).unsqueeze(0);
  at::Tensor a = f32.forward(tokens), b = bf16.forward(tokens);
  CHECK(b.scalar_type() == at::kFloat);
  const double rel = ((a - b).norm() / a.norm()).item<double>();
  INFO("relative difference " << rel);
  CHECK(rel < 0.05);
  CHECK(rel > 0);  // bf16 really ran in reduced precision
}

TEST_CASE("runtime options reject unknown devices and types", "[model]") {
  CHECK_THROWS_WITH(parse_runtime_options("tpu", "f32"), Catch::Contains("--device"));
  CHECK_THROWS_WITH(parse_runtime_options("cpu", "f8"), Catch::Contains("unknown compute type"));
  if (!at::hasCUDA()) CHECK_THROWS_WITH(parse_runtime_options("cuda", "f32"), Catch::Contains("no CUDA"));
}
