// Qwen 2 / 2.5: q/k/v biases always, Qwen's sliding-window keys. llama.cpp's "qwen2" runs NEOX rope
// on HF's rotate-half rows, so q/k rows are stored as they are.
#include "lib/arch/llama_layout.h"

namespace mp {

namespace {

class Qwen2 : public Architecture {
 public:
  const char* model_type() const override { return "qwen2"; }
  const char* gguf_name() const override { return "qwen2"; }
  void read_config(const ConfigKeys& keys, ModelConfig& c) const override {
    c.qkv_bias = true;
    read_qwen_sliding_window(keys, c);
  }
  std::vector<LayerTensor> layer_tensors(const ModelConfig& c) const override {
    return llama_layout_tensors(c, /*permute_qk=*/false);
  }
};

}  // namespace

const Architecture& qwen2_architecture() {
  static const Qwen2 arch;
  return arch;
}

}  // namespace mp
