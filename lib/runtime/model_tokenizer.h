// The tokenizer a tool uses with a model: the one a --tokenizer option names, else the model's own.
#pragma once
#include <string>

#include "lib/runtime/model_source.h"

namespace mp {

// override_path: a model directory or tokenizer file (Tokenizer::open); empty: source.tokenizer().
Tokenizer model_tokenizer(const ModelSource& source, const std::string& override_path);

}  // namespace mp
