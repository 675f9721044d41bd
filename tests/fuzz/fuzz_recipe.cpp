// A recipe: YAML, steps, `${var}` / `${env:NAME}` substitution; the first line is a `--set` override.
#include "lib/pipeline/recipe.h"
#include "tests/fuzz/fuzz_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto input = mp::fuzz::split_first_line(data, size);
  const std::string &override_line = input.first, &recipe = input.second;
  return mp::fuzz::run([&] {
    const std::string path = mp::fuzz::write_scratch("recipe.yaml", recipe);
    std::vector<std::string> overrides;
    if (!override_line.empty()) overrides.push_back(override_line);
    (void)mp::load_recipe(path, overrides);
  });
}
