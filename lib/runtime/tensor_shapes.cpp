#include "lib/runtime/tensor_shapes.h"

#include "lib/arch/architecture.h"
#include "lib/base/error.h"
#include "lib/runtime/model_source.h"

namespace mp {

namespace {

// The shape of "<suffix>" inside a decoder layer, from the family's description (lib/arch/).
std::optional<std::vector<int64_t>> layer_tensor_shape(const ModelConfig& c, const std::string& suffix) {
  for (const LayerTensor& t : architecture_of(c).layer_tensors(c))
    if (t.hf == suffix) return t.shape;
  return std::nullopt;
}

}  // namespace

std::optional<std::vector<int64_t>> expected_tensor_shape(const ModelConfig& c, const std::string& name) {
  if (name == hf_names::embed || name == hf_names::lm_head) return {{c.vocab_size, c.hidden_size}};
  if (name == hf_names::final_norm) return {{c.hidden_size}};
  const auto in_layer = hf_names::split_layer(name);
  if (!in_layer) return std::nullopt;
  return layer_tensor_shape(c, in_layer->suffix);
}

void check_tensor_shape(const ModelConfig& config, const std::string& name, const at::Tensor& tensor,
                        const std::string& where) {
  const auto expected = expected_tensor_shape(config, name);
  if (expected && tensor.sizes() != at::IntArrayRef(*expected))
    fail_input(where, "tensor '" + name + "' has shape " + c10::str(tensor.sizes()) + ", config implies " +
                          c10::str(at::IntArrayRef(*expected)));
}

}  // namespace mp
