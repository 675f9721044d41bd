// The shape config.json implies for every tensor of a Llama-family checkpoint. Checked when a tensor
// is loaded, so that a file disagreeing with its config is bad input naming both, and never a
// LibTorch error deep in a forward pass (or, worse, a broadcast that quietly computes nonsense).
#pragma once
#include <ATen/ATen.h>

#include <optional>
#include <string>
#include <vector>

#include "formats/hf_config.h"

namespace mp {

// By HF name; nullopt for names the decoder does not know (they are not checked).
std::optional<std::vector<int64_t>> expected_tensor_shape(const ModelConfig& config, const std::string& name);
// Bad input "<where>: tensor '<name>' has shape [..], config.json implies [..]" unless they agree.
void check_tensor_shape(const ModelConfig& config, const std::string& name, const at::Tensor& tensor,
                        const std::string& where);

}  // namespace mp
