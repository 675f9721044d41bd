#include "lib/pipeline/recipe_plan.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <set>

#include "lib/base/error.h"
#include "lib/base/shell_quote.h"
#include "lib/pipeline/recipe_paths.h"

namespace mp {

namespace {

// `modelpress run` is not a step: recipes do not nest.
const char* const kRunTool = "run";

// Thrown by the top-level app once every option is parsed, converted, validated and the
// requirements are checked, and before any tool's callback runs.
struct ParsedWithoutRunning {};

// The tools' callbacks stay in place (they own the tools' option storage); the top-level
// callback, which CLI11 runs before the subcommands', stops the run.
std::unique_ptr<CLI::App> parse_only_app(const AppFactory& make_app) {
  auto app = make_app();
  app->parse_complete_callback([] { throw ParsedWithoutRunning{}; });
  return app;
}

void parse(CLI::App& app, const std::vector<std::string>& argv) {
  std::vector<std::string> reversed(argv.rbegin(), argv.rend());  // CLI11 consumes from the back
  try {
    app.parse(reversed);
  } catch (const ParsedWithoutRunning&) {
  }
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : separator) + s;
  return out;
}

std::vector<std::string> tool_names(CLI::App& app) {
  std::vector<std::string> names;
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
    if (sub->get_name() != kRunTool) names.push_back(sub->get_name());
  return names;
}

CLI::App* find_tool(CLI::App& app, const std::string& name) {
  if (name == kRunTool) return nullptr;
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
    if (sub->get_name() == name) return sub;
  return nullptr;
}

// The name a recipe uses for an option: its first long name, or a positional's name.
std::string key_of(const CLI::Option& option) {
  return option.nonpositional() ? option.get_lnames().front() : option.get_name();
}

std::vector<const CLI::Option*> recipe_options(const CLI::App& tool) {
  std::vector<const CLI::Option*> options;
  for (const CLI::Option* o : tool.get_options())
    if (o != tool.get_help_ptr() && (!o->nonpositional() || !o->get_lnames().empty())) options.push_back(o);
  return options;
}

const CLI::Option* find_option(const CLI::App& tool, const std::string& key) {
  for (const CLI::Option* o : recipe_options(tool)) {
    const auto& long_names = o->get_lnames();
    if (std::find(long_names.begin(), long_names.end(), key) != long_names.end()) return o;
    if (!o->nonpositional() && o->get_name() == key) return o;
  }
  return nullptr;
}

std::string option_list(const CLI::App& tool) {
  std::vector<std::string> keys;
  for (const CLI::Option* o : recipe_options(tool)) {
    if (!o->nonpositional()) keys.push_back(o->get_name());
    for (const auto& l : o->get_lnames()) keys.push_back(l);
  }
  return join(keys, ", ");
}

// The words one arg contributes to the command line (none for false, "" or an empty list).
std::vector<std::string> words_for(const CLI::Option& option, const RecipeArg& arg, const std::string& where) {
  const RecipeValue& v = arg.value;
  const std::string flag = "--" + arg.key;
  if (option.get_expected_max() == 0) {
    if (v.kind != RecipeValue::Kind::boolean && !(v.items.size() == 1 && v.items[0].empty()))
      fail_input(where, "is a flag: use true or false, not '" + join(v.items, ", ") + "'");
    return v.is_true() ? std::vector<std::string>{flag} : std::vector<std::string>{};
  }
  if (v.kind == RecipeValue::Kind::boolean) fail_input(where, "takes a value, not " + v.items[0]);
  std::vector<std::string> values;
  std::copy_if(v.items.begin(), v.items.end(), std::back_inserter(values), [](const auto& s) { return !s.empty(); });
  if (v.kind == RecipeValue::Kind::list && option.get_expected_max() <= 1)
    fail_input(where, "takes one value, not a list");
  if (v.kind == RecipeValue::Kind::list && option.get_delimiter() != '\0' && !values.empty())
    values = {join(values, std::string(1, option.get_delimiter()))};
  std::vector<std::string> words;
  for (const auto& value : values) {
    if (option.nonpositional()) words.push_back(flag);
    words.push_back(value);
  }
  return words;
}

// Parses one arg's words on their own (required options waived), so a type error names its key.
void check_alone(const AppFactory& make_app, const std::string& tool, const std::vector<std::string>& words,
                 const std::string& where) {
  auto app = parse_only_app(make_app);
  for (CLI::Option* o : app->get_subcommand(tool)->get_options([](CLI::Option*) { return true; })) o->required(false);
  std::vector<std::string> argv{tool};
  argv.insert(argv.end(), words.begin(), words.end());
  try {
    parse(*app, argv);
  } catch (const CLI::ParseError& e) {
    fail_input(where, e.what());
  }
}

PlannedStep plan_step(const Recipe& r, const RecipeStep& step, const AppFactory& make_app,
                      const RecipeConfinement& confinement) {
  auto app = parse_only_app(make_app);
  CLI::App* tool = find_tool(*app, step.tool);
  if (!tool)
    fail_input(r.where(step.line, step.name, "tool"),
               "unknown tool '" + step.tool + "' (tools: " + join(tool_names(*app), ", ") + ")");
  PlannedStep planned{step.name, {step.tool}};
  std::set<const CLI::Option*> given;
  for (const auto& arg : step.args) {
    const std::string where = r.where(arg.line, step.name, arg.key);
    const CLI::Option* option = find_option(*tool, arg.key);
    if (!option) fail_input(where, "not an option of " + step.tool + " (options: " + option_list(*tool) + ")");
    if (option->get_type_name() == kWrittenPathType)
      for (size_t i = 0; i < arg.value.items.size(); ++i)
        confinement.check(arg.value.items[i], arg.value.explicit_prefixes[i], where, PathUse::written);
    const std::vector<std::string> words = words_for(*option, arg, where);
    if (words.empty()) continue;
    check_alone(make_app, step.tool, words, where);
    given.insert(option);
    planned.argv.insert(planned.argv.end(), words.begin(), words.end());
  }
  for (const CLI::Option* o : recipe_options(*tool))
    if (o->get_required() && !given.count(o))
      fail_input(r.where(step.line, step.name, key_of(*o)), "required by " + step.tool + " but not given (or empty)");
  try {
    parse(*parse_only_app(make_app), planned.argv);
  } catch (const CLI::ParseError& e) {
    fail_input(r.where(step.line, step.name), e.what());
  }
  return planned;
}

}  // namespace

std::vector<PlannedStep> plan_recipe(const Recipe& recipe, const AppFactory& make_app) {
  const RecipeConfinement confinement(recipe.path);
  std::vector<PlannedStep> plan;
  for (const auto& step : recipe.steps) plan.push_back(plan_step(recipe, step, make_app, confinement));
  return plan;
}

std::vector<PlannedStep> select_steps(const std::vector<PlannedStep>& plan, const std::string& from,
                                      const std::string& only) {
  if (!from.empty() && !only.empty()) fail_input("--from/--only", "give one of them, not both");
  const std::string& wanted = only.empty() ? from : only;
  if (wanted.empty()) return plan;
  auto it = std::find_if(plan.begin(), plan.end(), [&](const PlannedStep& s) { return s.name == wanted; });
  if (it == plan.end()) {
    std::vector<std::string> names;
    for (const auto& s : plan) names.push_back(s.name);
    fail_input(only.empty() ? "--from" : "--only", "no step named '" + wanted + "' (steps: " + join(names, ", ") + ")");
  }
  return only.empty() ? std::vector<PlannedStep>(it, plan.end()) : std::vector<PlannedStep>{*it};
}

std::string command_line(const PlannedStep& step) {
  std::vector<std::string> words{"modelpress"};
  words.insert(words.end(), step.argv.begin(), step.argv.end());
  return shell_command_line(words);
}

}  // namespace mp
