#include "lib/runtime/model_tokenizer.h"

#include "lib/base/error.h"

namespace mp {

Tokenizer model_tokenizer(const ModelSource& source, const std::string& override_path) {
  if (override_path.empty()) return source.tokenizer();
  Tokenizer tok = Tokenizer::open(override_path);
  if (tok.vocab_size() > source.config().vocab_size)
    fail_input(tok.origin(), "has " + std::to_string(tok.vocab_size()) + " tokens but the model " + source.path() +
                                 " embeds only " + std::to_string(source.config().vocab_size));
  return tok;
}

}  // namespace mp
