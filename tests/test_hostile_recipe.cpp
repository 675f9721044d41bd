// Recipes as a mutation run broke them: vars that double at every level must not grow without
// bound (a 622-byte recipe reached 2 GB and exited 0).
#include <catch2/catch.hpp>

#include <fstream>

#include "tests/hostile_inputs.h"

TEST_CASE("hostile recipe: vars that double 26 times are refused at 1 MiB, under ulimit -v", "[hostile]") {
  mp::test::ScratchDir dir;
  std::ofstream recipe(dir.path("double.yaml"));
  recipe << "vars:\n  v0: " << std::string(24, 'x') << "\n";
  for (int i = 1; i <= 26; ++i) recipe << "  v" << i << ": \"${v" << i - 1 << "}${v" << i - 1 << "}\"\n";
  recipe << "steps:\n  - name: look\n    tool: inspect\n    args:\n      path: ${v26}\n";
  recipe.close();
  const auto r = mp::test::run_modelpress_after("ulimit -v 4000000;", "run --dry-run " + mp::test::quoted(dir.path("double.yaml")));
  mp::test::require_bad_input(r, "double.yaml", "more than 1 MiB");
  CHECK(r.out.size() < 1024);
}
