// The size target's KL loss (formats/gguf_logit_losses.h): the cached partial forward against a
// full forward of the model with the tensor replaced, coarser types losing more, and the additivity
// the knapsack assumes, on a small random model.
#include <catch2/catch.hpp>

#include <map>

#include "formats/gguf_logit_losses.h"
#include "formats/gguf_type_losses.h"
#include "lib/runtime/llama_model.h"
#include "tests/test_support.h"

using namespace mp;

namespace {

// The model with some tensors replaced: the independent reference runs it end to end.
class ReplacedSource : public ModelSource {
 public:
  ReplacedSource(std::shared_ptr<const ModelSource> base, std::map<std::string, at::Tensor> replaced)
      : base_(std::move(base)), replaced_(std::move(replaced)) {}
  const ModelConfig& config() const override { return base_->config(); }
  bool has(const std::string& name) const override { return base_->has(name); }
  at::Tensor tensor(const std::string& name) const override {
    const auto it = replaced_.find(name);
    return it != replaced_.end() ? it->second : base_->tensor(name);
  }
  Tokenizer tokenizer() const override { return base_->tokenizer(); }
  const std::string& path() const override { return base_->path(); }

 private:
  std::shared_ptr<const ModelSource> base_;
  std::map<std::string, at::Tensor> replaced_;
};

// Mean KL(p ‖ q) per token from two full forwards.
double full_forward_kl(const std::shared_ptr<const ModelSource>& source, const std::map<std::string, at::Tensor>& replaced,
                       const at::Tensor& windows) {
  at::NoGradGuard no_grad;
  LlamaModel original(source, {}), changed(std::make_shared<ReplacedSource>(source, replaced), {});
  const at::Tensor p = at::log_softmax(original.forward(windows), -1);
  const at::Tensor q = at::log_softmax(changed.forward(windows), -1);
  return (p.exp() * (p - q)).sum(-1).to(at::kDouble).mean().item<double>();
}

struct Fixture {
  test::ScratchDir dir;
  std::shared_ptr<const ModelSource> source;
  at::Tensor windows;
  Fixture() {
    test::write_random_model(dir.path("model"), test::kquant_config(), 17);  // 2 layers, 256 wide
    source = open_model(dir.path("model"));
    at::manual_seed(3);
    windows = at::randint(0, source->config().vocab_size, {3, 24}, at::kLong);
  }
  at::Tensor quantized(const std::string& name, GgmlType type) const {
    return encode_decode(source->tensor(name), type, nullptr);
  }
};

}  // namespace

TEST_CASE("LogitLossMeter: the cached partial forward gives the full forward's KL", "[target_bpw]") {
  Fixture f;
  LogitLossMeter meter(*f.source, f.windows);
  CHECK(meter.kl({}) == Approx(0.0).margin(1e-9));
  for (const std::string name : {"model.layers.1.mlp.down_proj.weight", "model.layers.0.self_attn.k_proj.weight",
                                 "model.embed_tokens.weight", "lm_head.weight"}) {
    INFO(name);
    const std::map<std::string, at::Tensor> replaced{{name, f.quantized(name, GgmlType::Q2_K)}};
    const double kl = meter.kl(replaced);
    CHECK(kl > 1e-6);
    CHECK(kl == Approx(full_forward_kl(f.source, replaced, f.windows)).epsilon(1e-4));
  }
}

TEST_CASE("LogitLossMeter: a tensor quantized coarser moves the logits more", "[target_bpw]") {
  Fixture f;
  LogitLossMeter meter(*f.source, f.windows);
  for (const std::string name : {"model.layers.0.self_attn.q_proj.weight", "model.layers.1.mlp.up_proj.weight"}) {
    INFO(name);
    double finer = 0;
    for (GgmlType type : {GgmlType::Q8_0, GgmlType::Q6_K, GgmlType::Q4_K, GgmlType::Q2_K}) {
      INFO(ggml_type_name(type));
      const double kl = meter.kl({{name, f.quantized(name, type)}});
      CHECK(kl > finer);
      finer = kl;
    }
  }
}

// Small independent errors add up: KL is quadratic in the logit change to first order, and the
// cross terms between tensors average out. Measured here: the whole mix within 15 % of the sum.
TEST_CASE("LogitLossMeter: the KL of a mix is close to the sum of its tensors' KLs", "[target_bpw]") {
  Fixture f;
  LogitLossMeter meter(*f.source, f.windows);
  std::map<std::string, at::Tensor> all;
  double sum = 0;
  for (const std::string layer : {"model.layers.0.", "model.layers.1."})
    for (const std::string linear : {"self_attn.q_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
                                     "mlp.down_proj"}) {
      const std::string name = layer + linear + ".weight";
      all[name] = f.quantized(name, GgmlType::Q4_K);
      sum += meter.kl({{name, all[name]}});
    }
  const double mix = meter.kl(all);
  INFO("mix " << mix << ", sum " << sum);
  CHECK(mix == Approx(sum).epsilon(0.15));
}
