// The runtime's forward pass against a slow, plainly written double-precision reference, on small
// random models covering GQA, q/k/v biases, tied/untied embeddings, llama3 rope scaling, qwen3's q/k
// norms and sliding windows shorter than the context; and incremental decoding against the full forward.
#include <cmath>
#include <map>

#include "lib/runtime/llama_model.h"
#include "tests/test_support.h"

using namespace mp;

namespace {

// Rotary embedding in HF's rotate-half layout: dimension i pairs with i + d/2. Gemma 3's sliding
// layers have their own base and no scaling; linear scaling divides the positions.
// Phi-3's partial rotary rotates the first r dimensions (pairs i, i + r/2); longrope divides by the
// short factors, or by the long ones for a sequence longer than original_max_position_embeddings.
int64_t reference_rotated_dims(const ModelConfig& c) {
  return static_cast<int64_t>(c.head_dim * c.raw.value("partial_rotary_factor", 1.0));
}

bool is_longrope(const nlohmann::json& raw) {
  return raw.contains("rope_scaling") && raw["rope_scaling"].is_object() && raw["rope_scaling"].value("type", "") == "longrope";
}

// transformers' longrope attention factor from config.json's numbers.
double reference_rope_magnitude(const nlohmann::json& raw) {
  if (!is_longrope(raw)) return 1;
  const double original = raw["original_max_position_embeddings"].get<double>();
  const double stretch = raw["max_position_embeddings"].get<double>() / original;
  return stretch <= 1 ? 1 : std::sqrt(1 + std::log(stretch) / std::log(original));
}

std::vector<double> reference_inv_freq(const ModelConfig& c, bool sliding, int64_t sequence) {
  const nlohmann::json& raw = c.raw;
  const bool local = sliding && raw.contains("rope_local_base_freq");
  const double base = local ? raw["rope_local_base_freq"].get<double>() : c.rope_theta;
  const int64_t r = reference_rotated_dims(c);
  std::vector<double> f(r / 2);
  for (size_t i = 0; i < f.size(); ++i) {
    f[i] = 1.0 / std::pow(base, 2.0 * i / r);
    if (is_longrope(raw)) {
      const bool long_context = sequence > raw["original_max_position_embeddings"].get<int64_t>();
      f[i] /= raw["rope_scaling"][long_context ? "long_factor" : "short_factor"][i].get<double>();
    }
    if (!local && raw.contains("rope_scaling") && raw["rope_scaling"].value("rope_type", "") == "linear")
      f[i] /= raw["rope_scaling"]["factor"].get<double>();
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

// Gemma's tanh approximation of GELU.
at::Tensor reference_gelu(const at::Tensor& x) {
  return 0.5 * x * (1 + at::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x.pow(3))));
}

at::Tensor cap(const at::Tensor& x, const nlohmann::json& raw, const char* key) {
  if (!raw.contains(key) || raw[key].is_null()) return x;
  const double c = raw[key].get<double>();
  return at::tanh(x / c) * c;
}

// Written from the HF modeling files' arithmetic; Gemma's differences read from config.json's keys.
at::Tensor reference_forward(const ModelConfig& c, std::map<std::string, at::Tensor> w, const std::vector<int64_t>& tokens) {
  for (auto& kv : w) kv.second = kv.second.to(at::kDouble);
  const nlohmann::json& raw = c.raw;
  const bool gemma = c.model_type.rfind("gemma", 0) == 0;
  const int64_t t = static_cast<int64_t>(tokens.size()), d = c.head_dim;
  auto norm = [&](const at::Tensor& x, const at::Tensor& g) {
    return x / (x.pow(2).mean(-1, true) + c.rms_norm_eps).sqrt() * (gemma ? 1 + g : g);
  };
  auto lin = [&](const at::Tensor& x, const std::string& name) {
    at::Tensor y = at::matmul(x, w.at(name + ".weight").t());
    return w.count(name + ".bias") ? y + w.at(name + ".bias") : y;
  };
  const int64_t r = reference_rotated_dims(c);
  const double magnitude = reference_rope_magnitude(raw);
  auto rope = [&](at::Tensor x, bool sliding) {  // x: [T, d]; dimensions from r on pass through
    const auto inv_freq = reference_inv_freq(c, sliding, t);
    at::Tensor out = x.clone();
    for (int64_t p = 0; p < t; ++p)
      for (int64_t i = 0; i < r / 2; ++i) {
        const double a = p * inv_freq[i], x1 = x[p][i].item<double>(), x2 = x[p][i + r / 2].item<double>();
        out[p][i] = (x1 * std::cos(a) - x2 * std::sin(a)) * magnitude;
        out[p][i + r / 2] = (x2 * std::cos(a) + x1 * std::sin(a)) * magnitude;
      }
    return out;
  };
  const double scale = gemma ? 1 / std::sqrt(raw.value("query_pre_attn_scalar", 256.0)) : 1 / std::sqrt(double(d));
  at::Tensor x = w.at("model.embed_tokens.weight").index_select(0, at::tensor(tokens, at::kLong));
  if (gemma) x = x * std::sqrt(static_cast<double>(c.hidden_size));
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    at::Tensor h = norm(x, w.at(p + "input_layernorm.weight"));
    if (w.count(p + "self_attn.qkv_proj.weight")) {  // phi3: [q; k; v] and [gate; up] rows
      const auto qkv = w.at(p + "self_attn.qkv_proj.weight").split_with_sizes({c.num_heads * d, c.num_kv_heads * d, c.num_kv_heads * d});
      w[p + "self_attn.q_proj.weight"] = qkv[0], w[p + "self_attn.k_proj.weight"] = qkv[1], w[p + "self_attn.v_proj.weight"] = qkv[2];
      const auto gate_up = w.at(p + "mlp.gate_up_proj.weight").chunk(2, 0);
      w[p + "mlp.gate_proj.weight"] = gate_up[0], w[p + "mlp.up_proj.weight"] = gate_up[1];
    }
    at::Tensor q = lin(h, p + "self_attn.q_proj"), k = lin(h, p + "self_attn.k_proj"), v = lin(h, p + "self_attn.v_proj");
    // qwen3, gemma3: each head of q and k normalized on its own, before rope.
    auto head_norm = [&](const at::Tensor& x, const char* name) {
      return w.count(p + name) ? norm(x, w.at(p + name)) : x;
    };
    const int64_t window = c.attention_window(l);
    std::vector<at::Tensor> heads;
    for (int64_t head = 0; head < c.num_heads; ++head) {
      const int64_t kv_head = head / (c.num_heads / c.num_kv_heads);
      at::Tensor qh = rope(head_norm(q.narrow(1, head * d, d), "self_attn.q_norm.weight"), window > 0);
      at::Tensor kh = rope(head_norm(k.narrow(1, kv_head * d, d), "self_attn.k_norm.weight"), window > 0);
      at::Tensor vh = v.narrow(1, kv_head * d, d);
      at::Tensor scores = cap(at::matmul(qh, kh.t()) * scale, raw, "attn_logit_softcapping");
      for (int64_t i = 0; i < t; ++i)
        for (int64_t j = 0; j < t; ++j)
          if (j > i || (window > 0 && j <= i - window)) scores[i][j] = -INFINITY;
      heads.push_back(at::matmul(at::softmax(scores, -1), vh));
    }
    at::Tensor attn = lin(at::cat(heads, 1), p + "self_attn.o_proj");
    if (gemma) {  // sandwich norms: each block's output normalized too, the MLP has its own input norm
      x = x + norm(attn, w.at(p + "post_attention_layernorm.weight"));
      h = norm(x, w.at(p + "pre_feedforward_layernorm.weight"));
      at::Tensor m = lin(reference_gelu(lin(h, p + "mlp.gate_proj")) * lin(h, p + "mlp.up_proj"), p + "mlp.down_proj");
      x = x + norm(m, w.at(p + "post_feedforward_layernorm.weight"));
      continue;
    }
    x = x + attn;
    h = norm(x, w.at(p + "post_attention_layernorm.weight"));
    at::Tensor g = lin(h, p + "mlp.gate_proj");
    x = x + lin(g * at::sigmoid(g) * lin(h, p + "mlp.up_proj"), p + "mlp.down_proj");
  }
  x = norm(x, w.at("model.norm.weight"));
  const std::string head = w.count("lm_head.weight") ? "lm_head.weight" : "model.embed_tokens.weight";
  return cap(at::matmul(x, w.at(head).t()), raw, "final_logit_softcapping");
}

double check_against_reference(const nlohmann::json& config_json) {
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
  return err;
}

// Logits of `config_json`'s random model over `n` tokens: the full forward, and one token at a time
// through the KV cache after a prefix of `prefix` tokens.
void check_cache_against_full_forward(const nlohmann::json& config_json, int64_t n, int64_t prefix) {
  test::ScratchDir dir;
  test::write_random_model(dir.path("m"), config_json, 3);
  LlamaModel model(open_model(dir.path("m")), RuntimeOptions{});
  at::manual_seed(4);
  const at::Tensor tokens = at::randint(3, 512, {1, n}, at::kLong);
  const at::Tensor full = model.forward(tokens)[0];
  KVCache cache;
  const at::Tensor head = model.forward(tokens.narrow(1, 0, prefix), 0, &cache)[0];
  CHECK(at::allclose(head, full.narrow(0, 0, prefix), 1e-4, 1e-4));
  for (int64_t p = prefix; p < n; ++p) {
    INFO("position " << p);
    const at::Tensor step = model.forward(tokens.narrow(1, p, 1), p, &cache)[0][0];
    CHECK(at::allclose(step, full[p], 1e-4, 1e-4));
  }
}

// Small Gemma configs whose every difference from Llama shows within 12 tokens: head_dim and
// query_pre_attn_scalar apart from hidden/heads, caps low enough to bite, windows shorter than the context.
nlohmann::json gemma2_config() {
  auto c = test::tiny_config("gemma2");
  c["num_hidden_layers"] = 3;  // layers 0 and 2 slide
  c["head_dim"] = 16;
  c["query_pre_attn_scalar"] = 24;
  c["attn_logit_softcapping"] = 2.0;
  c["final_logit_softcapping"] = 5.0;
  c["sliding_window"] = 4;
  c["tie_word_embeddings"] = true;
  c["hidden_activation"] = "gelu_pytorch_tanh";
  return c;
}

nlohmann::json gemma3_config() {
  auto c = test::tiny_config("gemma3_text");
  c["num_hidden_layers"] = 3;
  c["sliding_window_pattern"] = 3;  // layers 0 and 1 slide, 2 is global
  c["head_dim"] = 16;
  c["query_pre_attn_scalar"] = 16;
  c["sliding_window"] = 4;
  c["rope_theta"] = 1000.0;
  c["rope_local_base_freq"] = 10.0;
  c["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 4.0}};
  c["final_logit_softcapping"] = nullptr;
  c["tie_word_embeddings"] = true;
  return c;
}

nlohmann::json qwen3_config() {
  auto c = test::tiny_config("qwen3");
  c["head_dim"] = 16;  // not hidden_size / heads, as in Qwen3's released sizes
  c["tie_word_embeddings"] = true;
  return c;
}

// Phi-3/Phi-4-mini's shape at small size: fused linears, 3/4 of each head rotating, longrope whose
// short and long factors differ, and a stretch (max positions / original) that makes the attention
// factor bite. `original` decides which factors the 12-token reference context takes.
nlohmann::json phi3_config(int64_t original) {
  auto c = test::tiny_config("phi3");
  c["head_dim"] = 16;
  c["partial_rotary_factor"] = 0.75;  // 12 of 16 dimensions rotate
  c["original_max_position_embeddings"] = original;
  c["max_position_embeddings"] = 64;
  c["rope_scaling"] = {{"type", "longrope"},
                       {"short_factor", {1.0, 1.5, 2.0, 3.0, 5.0, 8.0}},
                       {"long_factor", {1.0, 2.0, 4.0, 8.0, 16.0, 32.0}}};
  return c;
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

TEST_CASE("forward matches the reference: qwen3 q/k norms, head_dim from the config, tied embeddings", "[model]") {
  check_against_reference(qwen3_config());
  auto biased = qwen3_config();
  biased["attention_bias"] = true;  // q, k, v and o
  check_against_reference(biased);
}

TEST_CASE("forward matches the reference: gemma2 and gemma3", "[model]") {
  check_against_reference(gemma2_config());
  check_against_reference(gemma3_config());
}

TEST_CASE("forward matches the reference: phi3 fused linears, partial rotary, longrope", "[model][phi3]") {
  check_against_reference(phi3_config(16));  // short factors: the context is within the original length
  check_against_reference(phi3_config(8));   // long factors: the context goes beyond it
  auto plain = test::tiny_config("phi3");      // Phi-3-mini-4k: no scaling, whole heads rotate
  plain["sliding_window"] = 5;
  check_against_reference(plain);
}

TEST_CASE("phi3: the short and long factors and partial rotary change the logits", "[model][phi3]") {
  test::ScratchDir dir;
  auto base = phi3_config(16), long_context = phi3_config(8), whole = phi3_config(16);
  whole["partial_rotary_factor"] = 1.0;
  whole["rope_scaling"]["short_factor"] = std::vector<double>(8, 1.0);
  whole["rope_scaling"]["long_factor"] = std::vector<double>(8, 1.0);
  const at::Tensor tokens = at::arange(3, 15, at::kLong).unsqueeze(0);
  std::vector<at::Tensor> logits;
  for (const auto& [name, config] : {std::pair{"a", base}, {"b", long_context}, {"c", whole}}) {
    test::write_random_model(dir.path(name), config, 7);
    logits.push_back(LlamaModel(open_model(dir.path(name)), RuntimeOptions{}).forward(tokens));
  }
  CHECK((logits[0] - logits[1]).abs().max().item<double>() > 1e-3);
  CHECK((logits[0] - logits[2]).abs().max().item<double>() > 1e-3);
}

TEST_CASE("forward matches the reference: a sliding window shorter than the context", "[model]") {
  auto mistral = test::tiny_config("mistral");
  mistral["sliding_window"] = 5;  // the reference context is 12 tokens
  check_against_reference(mistral);
  // Qwen's window reaches only the layers from max_window_layers on.
  auto qwen2 = test::tiny_config("qwen2");
  qwen2["use_sliding_window"] = true;
  qwen2["sliding_window"] = 4;
  qwen2["max_window_layers"] = 1;
  check_against_reference(qwen2);
  auto qwen3 = qwen3_config();
  qwen3["use_sliding_window"] = true;
  qwen3["sliding_window"] = 3;
  qwen3["layer_types"] = {"sliding_attention", "full_attention"};
  check_against_reference(qwen3);
}

namespace {

// attention_score_bytes for the scope of a test.
struct ScoreBytes {
  int64_t saved = attention_score_bytes;
  explicit ScoreBytes(int64_t bytes) { attention_score_bytes = bytes; }
  ~ScoreBytes() { attention_score_bytes = saved; }
};

// The budget that makes the 12-token reference context attend in blocks of `block` queries.
int64_t budget_for_blocks_of(const nlohmann::json& config, int64_t block) {
  return block * config["num_attention_heads"].get<int64_t>() * 12 * int64_t{sizeof(float)};
}

}  // namespace

TEST_CASE("forward matches the reference with queries attended in blocks", "[model][attention_blocks]") {
  auto mistral = test::tiny_config("mistral");
  mistral["sliding_window"] = 5;
  for (const nlohmann::json& config : {test::tiny_config("llama"), mistral, gemma2_config(), qwen3_config()}) {
    INFO(config["model_type"].get<std::string>());
    for (int64_t block : {1, 5}) {  // one query at a time; 5 + 5 + 2
      INFO("blocks of " << block);
      ScoreBytes budget(budget_for_blocks_of(config, block));
      check_against_reference(config);
    }
  }
}

TEST_CASE("attending in blocks keeps decoding through the KV cache exact", "[model][attention_blocks]") {
  auto mistral = test::tiny_config("mistral");
  mistral["sliding_window"] = 4;
  ScoreBytes budget(1);
  check_cache_against_full_forward(mistral, 20, 9);
}

TEST_CASE("a forward stopped after an input computes that input as the full forward does", "[model]") {
  test::ScratchDir dir;
  test::write_random_model(dir.path("m"), test::tiny_config("llama"), 3);
  LlamaModel model(open_model(dir.path("m")), RuntimeOptions{});
  const DecoderLayerWeights w = model.load_layer(1);
  at::manual_seed(2);
  const at::Tensor hidden = at::randn({2, 7, model.config().hidden_size});
  std::map<std::string, at::Tensor> full;
  const at::Tensor out = decoder_layer_forward(model.config(), w, model.rope(), hidden, 0, nullptr,
                                               [&](const char* input, const at::Tensor& x) { full[input] = x; });
  REQUIRE(out.defined());
  REQUIRE(full.size() == 4);
  for (const char* stop : {"attn_in", "o_in", "mlp_in", "down_in"}) {
    INFO("stop after " << stop);
    std::vector<std::string> seen;
    at::Tensor last;
    const at::Tensor stopped = decoder_layer_forward(model.config(), w, model.rope(), hidden, 0, nullptr,
                                                     [&](const char* input, const at::Tensor& x) {
                                                       seen.push_back(input);
                                                       last = x;
                                                     },
                                                     stop);
    CHECK_FALSE(stopped.defined());
    CHECK(seen.back() == stop);
    CHECK(at::equal(last, full.at(stop)));
  }
}

TEST_CASE("a sliding window changes the logits only past its length", "[model]") {
  test::ScratchDir dir;
  auto full = test::tiny_config("mistral"), windowed = full;
  windowed["sliding_window"] = 5;
  test::write_random_model(dir.path("full"), full, 7);
  test::write_random_model(dir.path("windowed"), windowed, 7);
  LlamaModel a(open_model(dir.path("full")), RuntimeOptions{}), b(open_model(dir.path("windowed")), RuntimeOptions{});
  const at::Tensor tokens = at::arange(3, 15, at::kLong).unsqueeze(0);
  const at::Tensor difference = (a.forward(tokens) - b.forward(tokens))[0].abs().amax(-1);
  CHECK(difference.narrow(0, 0, 5).max().item<double>() == 0);
  CHECK(difference.narrow(0, 5, 7).min().item<double>() > 1e-3);
}

TEST_CASE("the KV cache equals the full forward past the sliding window", "[model]") {
  auto mistral = test::tiny_config("mistral");
  mistral["sliding_window"] = 4;
  check_cache_against_full_forward(mistral, 20, 6);
  auto qwen3 = qwen3_config();
  qwen3["use_sliding_window"] = true;
  qwen3["sliding_window"] = 3;
  qwen3["max_window_layers"] = 1;
  check_cache_against_full_forward(qwen3, 16, 2);
  check_cache_against_full_forward(gemma2_config(), 16, 3);
  check_cache_against_full_forward(gemma3_config(), 16, 5);
  auto phi3 = phi3_config(32);  // within the original length throughout: one set of factors
  phi3["sliding_window"] = 4;
  check_cache_against_full_forward(phi3, 16, 3);
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
