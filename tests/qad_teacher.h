// The teacher and the token data the QAD tests train on.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "distill/token_dataset.h"
#include "formats/safetensors.h"
#include "tests/test_support.h"

namespace mp::test {

// A random model of `config` in `teacher` with stories260K's tokenizer, and 8 documents of 160
// tokens in `tokens` (dataset "tok"). The random head is shrunk tenfold: logits of a trained model's
// spread, not one-hot ones whose KL divergence any rounding makes huge.
inline void write_qad_teacher(const std::string& teacher, const std::string& tokens, const nlohmann::json& config) {
  std::map<std::string, at::Tensor> tensors = write_random_model(teacher, config, 5);
  if (tensors.count("lm_head.weight")) tensors["lm_head.weight"] = tensors["lm_head.weight"] * 0.1;
  save_safetensors(teacher + "/model.safetensors", {tensors.begin(), tensors.end()});
  std::filesystem::copy_file(shared_path("models/stories260K/tokenizer.model"), teacher + "/tokenizer.model");
  TokenDatasetWriter writer(tokens, "tok");
  for (int d = 0; d < 8; ++d) {
    std::vector<int32_t> doc(160);
    for (size_t i = 0; i < doc.size(); ++i) doc[i] = static_cast<int32_t>((i * 13 + d * 5) % 251 + 3);
    writer.add_document(doc);
  }
  writer.commit();
}

}  // namespace mp::test
