// Mistral: Llama's layout without biases, and a sliding window on every layer when sliding_window is
// set. llama.cpp reads it as "llama", with Llama's tensors and keys (and no window: a configuration
// with one is not exported).
#include "lib/arch/llama_layout.h"

namespace mp {

const Architecture& llama_architecture();

namespace {

class Mistral : public Architecture {
 public:
  const char* model_type() const override { return "mistral"; }
  const char* gguf_name() const override { return "llama"; }
  void read_config(const ConfigKeys& keys, ModelConfig& c) const override {
    c.sliding_window = keys.optional<int64_t>("sliding_window", 0);
    if (c.sliding_window < 0) fail_input(keys.where(), "\"sliding_window\" must not be negative");
  }
  std::vector<LayerTensor> layer_tensors(const ModelConfig& c) const override {
    return llama_architecture().layer_tensors(c);
  }
  GgufKeys gguf_keys(const ModelConfig& c) const override { return llama_architecture().gguf_keys(c); }
};

}  // namespace

const Architecture& mistral_architecture() {
  static const Mistral arch;
  return arch;
}

}  // namespace mp
