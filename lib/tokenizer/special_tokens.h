// Which special tokens a tokenizer.json tokenizer has and adds around a text: its post-processor
// (TemplateProcessing, ByteLevel, Sequence) and tokenizer_config.json (bos/eos/pad/unk tokens,
// add_bos_token/add_eos_token where the post-processor adds nothing).
#pragma once
#include <functional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "lib/tokenizer/tokenizer_backend.h"

namespace mp {

// id_of: a token's id in the whole vocabulary, -1 if absent. model_unk: the BPE model's unk_token id.
SpecialTokens hf_special_tokens(const nlohmann::json& post_processor, const nlohmann::json& config, int32_t model_unk,
                                const std::function<int32_t(const std::string&)>& id_of, const std::string& origin);

}  // namespace mp
