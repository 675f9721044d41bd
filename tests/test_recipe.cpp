// Recipes in the library: YAML reading, ${var} substitution, --set, argv building against a CLI11
// definition, step selection and shell quoting. The CLI end of `modelpress run` is in
// test_recipe_run.cpp.
#include <catch2/catch.hpp>

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <fstream>

#include "lib/base/error.h"
#include "lib/pipeline/recipe.h"
#include "lib/pipeline/recipe_plan.h"
#include "lib/base/sha256.h"
#include "lib/base/shell_quote.h"
#include "tests/test_support.h"

namespace {

std::string write_recipe(const mp::test::ScratchDir& dir, const std::string& yaml) {
  const std::string path = dir.path("recipe.yaml");
  std::ofstream(path) << yaml;
  return path;
}

std::string arg_text(const mp::Recipe& r, size_t step, const std::string& key) {
  for (const auto& a : r.steps.at(step).args)
    if (a.key == key) return a.value.items.at(0);
  FAIL("no arg " << key);
  return "";
}

// A stand-in for the modelpress app: one tool with each kind of option the argv builder handles.
std::unique_ptr<CLI::App> toy_app() {
  auto app = std::make_unique<CLI::App>("toy");
  app->require_subcommand(1);
  auto* tool = app->add_subcommand("toy", "");
  auto values = std::make_shared<std::tuple<std::string, int, bool, std::vector<std::string>, std::vector<int>>>();
  tool->add_option("--model,-m", std::get<0>(*values))->required();
  tool->add_option("--bits", std::get<1>(*values));
  tool->add_flag("--sym,!--asym", std::get<2>(*values));
  tool->add_option("--skip", std::get<3>(*values));
  tool->add_option("--keep", std::get<4>(*values))->delimiter(',');
  tool->add_option("path", std::get<0>(*values));
  tool->callback([values] { FAIL("planning must not run a tool"); });
  app->add_subcommand("run", "");
  return app;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const mp::Error& e) {
    CHECK(e.code() == mp::ExitCode::bad_input);
    return e.what();
  }
  FAIL("expected a bad-input error");
  return "";
}

}  // namespace

TEST_CASE("recipe vars substitute, nest, read the environment and take --set", "[recipe]") {
  mp::test::ScratchDir dir;
  // Inside the recipe's directory: a recipe's own paths may not lead out of it (recipe_paths.h).
  const std::string root = dir.path("models");
  ::setenv("MODELPRESS_RECIPE_TEST_ROOT", root.c_str(), 1);
  const std::string yaml =
      "description: test\n"
      "vars:\n"
      "  root: ${env:MODELPRESS_RECIPE_TEST_ROOT}\n"
      "  name: tiny\n"
      "  model: ${root}/${name}\n"
      "  out: out/${name}-q${bits}\n"
      "  bits: 4\n"
      "steps:\n"
      "  - name: q\n"
      "    tool: toy\n"
      "    args:\n"
      "      model: ${model}\n"
      "      bits: ${bits}\n"
      "      sym: true\n"
      "      skip: [a, \"${name}\"]\n"
      "      path: \"true\"\n";
  const std::string path = write_recipe(dir, yaml);
  const mp::Recipe r = mp::load_recipe(path);
  CHECK(r.description == "test");
  CHECK(r.sha256 == mp::sha256_hex(yaml));
  CHECK(r.vars == mp::RecipeVars{{"root", root}, {"name", "tiny"}, {"model", root + "/tiny"},
                                 {"out", "out/tiny-q4"}, {"bits", "4"}});
  CHECK(arg_text(r, 0, "model") == root + "/tiny");
  CHECK(r.steps[0].args[2].value.kind == mp::RecipeValue::Kind::boolean);
  CHECK(r.steps[0].args[3].value.items == std::vector<std::string>{"a", "tiny"});
  // A quoted "true" is text, not a flag switch.
  CHECK(r.steps[0].args[4].value.kind == mp::RecipeValue::Kind::text);

  const mp::Recipe set = mp::load_recipe(path, {"name=big", "bits=8"});
  CHECK(arg_text(set, 0, "model") == root + "/big");
  CHECK(set.vars[3].second == "out/big-q8");
  ::unsetenv("MODELPRESS_RECIPE_TEST_ROOT");
  CHECK_THAT(error_of([&] { mp::load_recipe(path); }),
             Catch::Contains("vars.root") && Catch::Contains("MODELPRESS_RECIPE_TEST_ROOT") &&
                 Catch::Contains("is not set"));
}

TEST_CASE("recipe errors name the file, the line, the step and the key", "[recipe]") {
  mp::test::ScratchDir dir;
  const std::string head = "vars: {a: \"1\"}\nsteps:\n  - name: q\n    tool: toy\n    args:\n";
  const std::string path = write_recipe(dir, head + "      model: ${b}\n");
  CHECK_THAT(error_of([&] { mp::load_recipe(path); }),
             Catch::StartsWith(path + ":6: step 'q', key 'model': undefined variable 'b' (vars: a)"));
  CHECK_THAT(error_of([&] { mp::load_recipe(path, {"c=2"}); }),
             Catch::Contains("--set c=2") && Catch::Contains("'c' is not a variable") && Catch::Contains("(vars: a)"));
  write_recipe(dir, "vars: {a: \"${b}\", b: \"${a}\"}\nsteps: [{name: q, tool: toy}]\n");
  CHECK_THAT(error_of([&] { mp::load_recipe(path); }), Catch::Contains("cycle: a -> b -> a"));
  write_recipe(dir, head + "      model: x\n      model: y\n");
  CHECK_THAT(error_of([&] { mp::load_recipe(path); }), Catch::Contains(":7: step 'q', key 'model': given twice"));
  write_recipe(dir, "steps: [{name: q, tool: toy, arsg: {}}]\n");
  CHECK_THAT(error_of([&] { mp::load_recipe(path); }), Catch::Contains("step 'q', key 'arsg': unknown step key"));
  write_recipe(dir, "step: []\n");
  CHECK_THAT(error_of([&] { mp::load_recipe(path); }), Catch::Contains(":1: key 'step': unknown top-level key"));
  write_recipe(dir, "steps: [{name: q, tool: toy}, {name: q, tool: toy}]\n");
  CHECK_THAT(error_of([&] { mp::load_recipe(path); }), Catch::Contains("step 'q', key 'name': two steps have this name"));
  write_recipe(dir, "steps: [{name: q, tool: toy, args: {model: [}]\n");
  CHECK_THAT(error_of([&] { mp::load_recipe(path); }), Catch::Contains("not valid YAML"));
  write_recipe(dir, "vars: {out: o}\nsteps: [{name: q, tool: toy, args: {model: ${out}}}]\n");
  CHECK_THAT(error_of([&] { mp::load_recipe(path); }), Catch::Contains("quote values that use ${...}"));
  write_recipe(dir, "vars: {out: o}\nsteps: [{name: q, tool: toy, args: {model: \"${out}\"}}]\n");
  CHECK(arg_text(mp::load_recipe(path), 0, "model") == "o");
  CHECK_THAT(error_of([&] { mp::load_recipe(dir.path("missing.yaml")); }), Catch::Contains("cannot read"));
}

TEST_CASE("recipe steps become command lines checked against the tool's options", "[recipe]") {
  mp::test::ScratchDir dir;
  const std::string head = "steps:\n  - name: q\n    tool: toy\n    args:\n      model: m\n";
  const std::string path = write_recipe(dir, head +
                                                 "      bits: 4\n"
                                                 "      sym: false\n"
                                                 "      asym: true\n"
                                                 "      skip: [a, b c]\n"
                                                 "      keep: [0, 2, 4]\n"
                                                 "      path: \"\"\n");
  const auto plan = mp::plan_recipe(mp::load_recipe(path), toy_app);
  REQUIRE(plan.size() == 1);
  CHECK(plan[0].argv == std::vector<std::string>{"toy", "--model", "m", "--bits", "4", "--asym", "--skip", "a",
                                                 "--skip", "b c", "--keep", "0,2,4"});
  CHECK(mp::command_line(plan[0]) == "modelpress toy --model m --bits 4 --asym --skip a --skip 'b c' --keep 0,2,4");

  auto plan_error = [&](const std::string& args) {
    write_recipe(dir, head + args);
    return error_of([&] { mp::plan_recipe(mp::load_recipe(path), toy_app); });
  };
  CHECK_THAT(plan_error("      bits: four\n"), Catch::Contains(":6: step 'q', key 'bits'") && Catch::Contains("four"));
  CHECK_THAT(plan_error("      colour: red\n"),
             Catch::Contains("key 'colour': not an option of toy (options: model, bits, sym, asym, skip, keep, path)"));
  CHECK_THAT(plan_error("      sym: 1\n"), Catch::Contains("key 'sym': is a flag: use true or false"));
  CHECK_THAT(plan_error("      bits: true\n"), Catch::Contains("key 'bits': takes a value"));
  CHECK_THAT(plan_error("      bits: [1, 2]\n"), Catch::Contains("key 'bits': takes one value, not a list"));
  write_recipe(dir, "steps: [{name: q, tool: toy, args: {model: \"\"}}]\n");
  CHECK_THAT(error_of([&] { mp::plan_recipe(mp::load_recipe(path), toy_app); }),
             Catch::Contains("step 'q', key 'model': required by toy"));
  write_recipe(dir, "steps: [{name: q, tool: run}]\n");
  CHECK_THAT(error_of([&] { mp::plan_recipe(mp::load_recipe(path), toy_app); }),
             Catch::Contains("key 'tool': unknown tool 'run' (tools: toy)"));
}

TEST_CASE("recipe steps are selected by --from and --only, and shell quoting round-trips through sh", "[recipe]") {
  const std::vector<mp::PlannedStep> plan = {{"a", {"x"}}, {"b", {"y"}}, {"c", {"z"}}};
  auto names = [](const std::vector<mp::PlannedStep>& steps) {
    std::string s;
    for (const auto& step : steps) s += step.name;
    return s;
  };
  CHECK(names(mp::select_steps(plan, "", "")) == "abc");
  CHECK(names(mp::select_steps(plan, "b", "")) == "bc");
  CHECK(names(mp::select_steps(plan, "", "b")) == "b");
  CHECK_THAT(error_of([&] { mp::select_steps(plan, "d", ""); }), Catch::Contains("--from: no step named 'd' (steps: a, b, c)"));
  CHECK_THAT(error_of([&] { mp::select_steps(plan, "a", "b"); }), Catch::Contains("not both"));

  CHECK(mp::shell_quote("out/model-Q4_K_M.gguf") == "out/model-Q4_K_M.gguf");
  CHECK(mp::shell_quote("") == "''");
  mp::test::ScratchDir dir;
  const std::string word = "it's a $HOME `x` \"y\" \\ *";
  const std::string out = dir.path("echo.txt");
  REQUIRE(std::system(("printf %s " + mp::shell_quote(word) + " > '" + out + "'").c_str()) == 0);
  std::ifstream in(out);
  std::string echoed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(echoed == word);
}
