// config.json and tokenizer_config.json of a model directory (generation_config.json is only copied,
// never parsed). The input's first line is config.json, the rest tokenizer_config.json.
#include "formats/hf_config.h"
#include "formats/hf_special_vocab.h"
#include "tests/fuzz/fuzz_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto input = mp::fuzz::split_first_line(data, size);
  const std::string &config = input.first, &tokenizer_config = input.second;
  return mp::fuzz::run([&] {
    mp::fuzz::write_scratch("config.json", config);
    mp::fuzz::write_scratch("tokenizer_config.json", tokenizer_config);
    try {
      (void)mp::ModelConfig::load(mp::fuzz::scratch_dir());
    } catch (const mp::Error& e) {
      if (e.code() != mp::ExitCode::bad_input) throw;
    }
    (void)mp::read_hf_special_vocab(mp::fuzz::scratch_dir(), 1000, [](const std::string& text) {
      return text.size() < 8;
    });
  });
}
