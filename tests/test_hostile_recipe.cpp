// Recipes as a mutation run broke them: vars that double at every level must not grow without
// bound (a 622-byte recipe reached 2 GB and exited 0).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <vector>

#include "tests/hostile_inputs.h"

TEST_CASE("hostile recipe: vars that double 26 times are refused at 1 MiB, under ulimit -v", "[hostile]") {
  mp::test::ScratchDir dir;
  std::ofstream recipe(dir.path("double.yaml"));
  recipe << "vars:\n  v0: " << std::string(24, 'x') << "\n";
  for (int i = 1; i <= 26; ++i) recipe << "  v" << i << ": \"${v" << i - 1 << "}${v" << i - 1 << "}\"\n";
  recipe << "steps:\n  - name: look\n    tool: inspect\n    args:\n      path: ${v26}\n";
  recipe.close();
  const auto r = mp::test::run_modelpress_after(mp::test::memory_limit_4gb(), "run --dry-run " + mp::test::quoted(dir.path("double.yaml")));
  mp::test::require_bad_input(r, "double.yaml", "more than 1 MiB");
  CHECK(r.out.size() < 1024);
}

// A recipe reaches files outside its own directory only through paths the user gives with --set
// (docs/recipes.md, "Paths"): `..`, absolute paths and symlinks leading out are refused before
// anything runs, one line naming the recipe, the step and the key, exit code 3.
TEST_CASE("hostile recipe: paths leading out of the recipe's directory are refused unless given with --set",
          "[hostile]") {
  namespace fs = std::filesystem;
  mp::test::ScratchDir dir;
  const std::string recipes = dir.path("recipes");
  fs::create_directories(recipes + "/data");
  std::ofstream(dir.path("secret.txt")) << "not for recipes";
  std::ofstream(recipes + "/data/inside.txt") << "fine";
  fs::create_directory_symlink(dir.path(""), recipes + "/link");  // leads out, to the scratch directory
  const std::string path = recipes + "/r.yaml";
  // The recipe is run from its own directory, so its relative paths start there.
  auto run = [&](const std::string& value, const std::string& sets = "") {
    std::ofstream(path) << "vars:\n  dir: data\nsteps:\n  - name: look\n    tool: inspect\n    args:\n      path: "
                        << value << "\n";
    return mp::test::run_modelpress_after("cd " + mp::test::quoted(recipes) + " &&",
                                          "run --dry-run r.yaml" + sets);
  };
  for (const std::string& escape : std::vector<std::string>{"../secret.txt", dir.path("secret.txt"), "link/secret.txt", "data/../../secret.txt",
                                   "${dir}/../../secret.txt", "/etc/passwd"}) {
    INFO(escape);
    const auto r = run(escape);
    mp::test::require_bad_input(r, "r.yaml:7: step 'look', key 'path'", "leads outside the recipe's directory");
    CHECK(r.out.empty());
  }
  // Inside the directory, plain words that name nothing, and paths the user gave.
  CHECK(run("data/inside.txt").out == "modelpress inspect data/inside.txt\n");
  CHECK(run("${dir}/inside.txt").out == "modelpress inspect data/inside.txt\n");
  CHECK(run("Q4_K_M").out == "modelpress inspect Q4_K_M\n");
  const std::string secret = dir.path("secret.txt");
  CHECK(run("${dir}", " --set dir=" + mp::test::quoted(secret)).out == "modelpress inspect " + secret + "\n");
  CHECK(run("${dir}/x", " --set dir=" + mp::test::quoted(dir.path(""))).exit_code == 0);
  // An explicit directory does not let the recipe climb out of it.
  mp::test::require_bad_input(run("${dir}/../../secret.txt", " --set dir=" + mp::test::quoted(recipes + "/data")),
                              "key 'path'", "leads outside");
}

// An option that names what a tool writes (type OUTPUT in --help) is a path even as a bare name: a
// recipe run from another directory would otherwise create that file there.
TEST_CASE("hostile recipe: a bare output name counts as a path in the working directory", "[hostile]") {
  mp::test::ScratchDir dir;
  const std::string recipes = dir.path("recipes");
  std::filesystem::create_directories(recipes);
  const std::string path = recipes + "/r.yaml";
  auto run = [&](const std::string& from, const std::string& args, const std::string& sets = "") {
    std::ofstream(path) << "vars:\n  out: new\nsteps:\n  - name: write\n    tool: export\n    args:\n"
                        << "      model: model\n" << args;
    return mp::test::run_modelpress_after("cd " + mp::test::quoted(from) + " &&",
                                          "run --dry-run " + mp::test::quoted(path) + sets);
  };
  for (const std::string& args : {std::string("      output: new.gguf\n"), std::string("      output: ${out}.gguf\n")}) {
    INFO(args);
    mp::test::require_bad_input(run(dir.path(""), args), "r.yaml:8: step 'write', key 'output'",
                                "leads outside the recipe's directory");
    CHECK(!std::filesystem::exists(dir.path("new.gguf")));
    // From the recipe's own directory the same name stays inside it.
    CHECK(run(recipes, args).out == "modelpress export --model model --output new.gguf\n");
  }
  // A name the user gave, and standard output, go anywhere.
  CHECK(run(dir.path(""), "      output: ${out}.gguf\n", " --set out=elsewhere").out ==
        "modelpress export --model model --output elsewhere.gguf\n");
  CHECK(run(dir.path(""), "      output: '-'\n").out == "modelpress export --model model --output -\n");
  // Options that only read are still judged by whether the value looks like a path.
  CHECK(run(dir.path(""), "      output: ${out}.gguf\n      type: Q4_K_M\n", " --set out=x").exit_code == 0);
}
