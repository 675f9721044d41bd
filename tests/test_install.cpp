// `cmake --install` into a temporary prefix: the installed binary runs, and finds its SentencePiece
// module in <prefix>/lib/modelpress, where no build tree is beside it.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "lib/base/shell_quote.h"
#include "tests/run_program.h"

namespace fs = std::filesystem;

TEST_CASE("cmake --install: the installed modelpress runs and loads its tokenizer module", "[install][cli]") {
  mp::test::ScratchDir prefix;
  const fs::path build = fs::path(mp::test::modelpress_binary()).parent_path();
  const auto install = mp::test::run_program("cmake", "--install " + mp::shell_quote(build.string()) +
                                                          " --prefix " + mp::shell_quote(prefix.path()));
  INFO(install.out << install.err);
  REQUIRE(install.exit_code == 0);
  const fs::path binary = fs::path(prefix.path()) / "bin" / "modelpress";
  REQUIRE(fs::exists(binary));
  REQUIRE(fs::exists(fs::path(prefix.path()) / "lib" / "modelpress" / "libmodelpress_spm.so"));
  CHECK_FALSE(fs::exists(binary.parent_path() / "libmodelpress_spm.so"));
  // Without the override the build tree's tests may set, the module must come from the prefix.
  const std::string installed = "env -u MODELPRESS_SPM_SHIM " + mp::shell_quote(binary.string());

  const auto version = mp::test::run_program(installed, "--version");
  CHECK(version.exit_code == 0);
  CHECK(version.out.rfind("modelpress ", 0) == 0);

  // Tokenizing the model's own tokenizer.model goes through the module; the installed and the
  // built binary must agree on perplexity to the last printed digit.
  const std::string model = mp::test::shared_path("models/stories260K");
  mp::test::ScratchDir dir;
  {
    std::ofstream text(dir.path("story.txt"));
    for (int i = 0; i < 20; ++i) text << "Once upon a time there was a little girl named Lily. She liked to play outside.\n";
  }
  const std::string eval = "eval -q --json --ctx 64 --chunks 4 --threads 1 -m " + mp::shell_quote(model) + " -f " +
                           mp::shell_quote(dir.path("story.txt"));
  const auto ours = mp::test::run_program(installed, eval);
  INFO(ours.err);
  REQUIRE(ours.exit_code == 0);
  const auto built = mp::test::run_modelpress(eval);
  REQUIRE(built.exit_code == 0);
  CHECK(nlohmann::json::parse(ours.out)["ppl"] == nlohmann::json::parse(built.out)["ppl"]);
}
