// Reading metadata values of a GgufFile with one-line errors naming the file.
#pragma once
#include <cstdint>
#include <string>

#include "formats/gguf_file.h"

namespace mp {

// The value of a key the file must have.
const GgufValue& gguf_required(const GgufFile& f, const std::string& key);
// An integer of any width or signedness (llama.cpp's files use UINT32, others INT32 or 64-bit).
int64_t gguf_integer(const GgufFile& f, const std::string& key, const GgufValue& v);

}  // namespace mp
