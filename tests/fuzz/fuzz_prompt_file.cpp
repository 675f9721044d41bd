// Prompt files for `generate --prompts`: the same bytes read as JSON Lines and as plain text, since
// the reader picks its parser by the file name.
#include "formats/prompt_file.h"
#include "tests/fuzz/fuzz_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return mp::fuzz::run([&] {
    for (const char* name : {"prompts.jsonl", "prompts.txt"})
      for (const mp::Prompt& prompt : mp::read_prompts(mp::fuzz::write_scratch(name, data, size)))
        if (prompt.where.empty()) __builtin_trap();  // every prompt names its file and line
  });
}
