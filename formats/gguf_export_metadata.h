// The metadata block of an exported GGUF, key by key as llama.cpp's converter writes it.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "formats/gguf_value.h"
#include "lib/runtime/model_source.h"

namespace mp {

// `parameters` counts every weight (for general.size_label); `file_type` is LLAMA_FTYPE. Keys are
// prefixed with gguf_architecture(); the tokenizer keys are gguf_vocab_keys' (formats/gguf_vocab_export.h),
// `pre` overriding a byte-level BPE vocabulary's detected tokenizer.ggml.pre.
std::vector<std::pair<std::string, GgufValue>> llama_gguf_metadata(const ModelSource& source, const std::string& name,
                                                                   int64_t parameters, uint32_t file_type,
                                                                   const std::string& pre = "");

// gguf-py's size label: "260K", "6.7B" (at least two significant digits).
std::string gguf_size_label(int64_t parameters);

}  // namespace mp
