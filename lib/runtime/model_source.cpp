#include "lib/runtime/model_source.h"

#include "lib/arch/architecture.h"

#include <cctype>

namespace mp {

std::string hf_names::layer(int64_t i, const std::string& suffix) {
  return "model.layers." + std::to_string(i) + "." + suffix;
}

at::Tensor ModelSource::tensor_rows(const std::string& name, const at::Tensor& indices, at::ScalarType dtype) const {
  const at::Tensor all = tensor(name);
  std::vector<int64_t> shape = indices.sizes().vec();
  shape.push_back(all.size(1));
  return all.index_select(0, indices.reshape({-1}).to(at::kLong)).to(dtype).view(shape);
}

std::optional<hf_names::LayerTensorName> hf_names::split_layer(const std::string& name) {
  const std::string prefix = "model.layers.";
  if (name.rfind(prefix, 0) != 0) return std::nullopt;
  size_t end = prefix.size();
  int64_t layer = 0;
  for (; end < name.size() && std::isdigit(static_cast<unsigned char>(name[end])) && end - prefix.size() < 9; ++end)
    layer = layer * 10 + (name[end] - '0');
  if (end == prefix.size() || end >= name.size() || name[end] != '.') return std::nullopt;
  return LayerTensorName{layer, name.substr(end + 1)};
}

void release_layer_pages(const ModelSource& source, int64_t i) {
  const ModelConfig& c = source.config();
  for (const LayerTensor& t : architecture_of(c).layer_tensors(c)) source.release(hf_names::layer(i, t.hf));
}

}  // namespace mp
