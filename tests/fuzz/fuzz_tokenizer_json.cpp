// tokenizer.json: the document, its model, normalizers, pre-tokenizers, decoders and added tokens;
// a fixed text is then encoded and decoded with it.
#include <nlohmann/json.hpp>

#include "formats/json_file.h"
#include "lib/tokenizer/tokenizer.h"
#include "tests/fuzz/fuzz_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return mp::fuzz::run([&] {
    const char* text = reinterpret_cast<const char*>(data);
    const auto doc = mp::parse_json_text("tokenizer.json", text, text + size);
    const auto tokenizer = mp::Tokenizer::from_hf_json(doc, "tokenizer.json");
    const auto ids = tokenizer.encode("Hello world! 123 <s> caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd  \t\n", true);
    (void)tokenizer.decode(ids);
    for (int32_t id = 0; id < std::min(tokenizer.vocab_size(), 64); ++id) (void)tokenizer.token_text(id, id == 0);
  });
}
