// config.json, tokenizer_config.json and generation_config.json of a model directory. The input's
// first line is config.json; the rest serves as both tokenizer_config.json and
// generation_config.json (their keys do not overlap, so one mutated object exercises both).
#include "formats/generation_config.h"
#include "formats/hf_config.h"
#include "formats/hf_special_vocab.h"
#include "lib/base/error.h"
#include "tests/fuzz/fuzz_harness.h"

namespace {

// Each file is parsed on its own: one refused must not keep the others from being tried.
void parse_alone(const std::function<void()>& parse) {
  try {
    parse();
  } catch (const mp::Error& e) {
    if (e.code() != mp::ExitCode::bad_input) throw;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto input = mp::fuzz::split_first_line(data, size);
  const std::string &config = input.first, &rest = input.second;
  return mp::fuzz::run([&] {
    const std::string& dir = mp::fuzz::scratch_dir();
    mp::fuzz::write_scratch("config.json", config);
    mp::fuzz::write_scratch("tokenizer_config.json", rest);
    mp::fuzz::write_scratch("generation_config.json", rest);
    parse_alone([&] { (void)mp::ModelConfig::load(dir); });
    parse_alone([&] { (void)mp::read_generation_config(dir); });
    (void)mp::read_hf_special_vocab(dir, 1000, [](const std::string& text) { return text.size() < 8; });
  });
}
