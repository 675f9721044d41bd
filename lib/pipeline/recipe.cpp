#include "lib/pipeline/recipe.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "lib/base/error.h"
#include "lib/base/sha256.h"
#include "lib/pipeline/recipe_paths.h"

namespace mp {

namespace {

const std::set<std::string> kTopLevelKeys = {"description", "vars", "steps"};
const std::set<std::string> kStepKeys = {"name", "tool", "args"};

int line_of(const YAML::Node& node) { return node.Mark().line + 1; }

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

// YAML 1.2 core schema booleans; only unquoted scalars are booleans.
bool is_boolean_text(const std::string& s) {
  static const std::set<std::string> words = {"true", "True", "TRUE", "false", "False", "FALSE"};
  return words.count(s) > 0;
}

// Plain scalars keep their text ("0.01" stays "0.01"); null is the empty string.
std::string scalar_text(const YAML::Node& node) { return node.IsNull() ? "" : node.Scalar(); }

std::string var_names(const RecipeVars& vars) {
  std::vector<std::string> names;
  for (const auto& v : vars) names.push_back(v.first);
  return joined(names);
}

bool is_var_name(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  return true;
}

// No value of a recipe needs more after substitution (docs/recipes.md).
constexpr size_t kMaxExpandedBytes = size_t{1} << 20;

// Resolves vars on demand, following references between them and refusing cycles.
class VarResolver {
 public:
  VarResolver(const Recipe& recipe, const RecipeVars& raw, const std::map<std::string, int>& lines,
              const std::set<std::string>& given)
      : recipe_(recipe), raw_(raw), lines_(lines), given_(given) {}

  // Replaces every ${name} and ${env:NAME} in `text`; `where` names the place for errors.
  std::string substitute(const std::string& text, const std::string& where) {
    std::string out;
    size_t pos = 0;
    while (true) {
      const size_t start = text.find("${", pos);
      if (start == std::string::npos) break;
      const size_t end = text.find('}', start);
      if (end == std::string::npos) fail_input(where, "'${' without a closing '}' in '" + text + "'");
      out += text.substr(pos, start - pos);
      out += lookup(text.substr(start + 2, end - start - 2), where);
      // Vars that repeat each other double at every level: 26 levels would be gigabytes.
      if (out.size() > kMaxExpandedBytes)
        fail_input(where, "expands to more than " + std::to_string(kMaxExpandedBytes >> 20) +
                              " MiB (variables that repeat each other?)");
      pos = end + 1;
    }
    return out + text.substr(pos);
  }

  std::string value(const std::string& name) { return lookup(name, recipe_.where(lines_.at(name)) + ": vars." + name); }

  // The start of `text`'s expansion that the user gave with --set: the value of the var `text`
  // starts with, when that var was set, or else what that var's own text starts with. Empty when
  // the expansion starts with anything the recipe wrote. Called once every var is resolved.
  std::string explicit_prefix(const std::string& text) {
    if (text.rfind("${", 0) != 0) return "";
    const size_t end = text.find('}');
    if (end == std::string::npos) return "";
    const std::string name = text.substr(2, end - 2);
    if (given_.count(name)) return resolved_.at(name);
    auto raw = std::find_if(raw_.begin(), raw_.end(), [&](const auto& v) { return v.first == name; });
    return raw == raw_.end() ? "" : explicit_prefix(raw->second);
  }

 private:
  std::string lookup(const std::string& name, const std::string& where) {
    if (name.rfind("env:", 0) == 0) {
      const char* env = std::getenv(name.substr(4).c_str());
      if (!env) fail_input(where, "environment variable '" + name.substr(4) + "' is not set");
      return env;
    }
    if (auto done = resolved_.find(name); done != resolved_.end()) return done->second;
    auto raw = std::find_if(raw_.begin(), raw_.end(), [&](const auto& v) { return v.first == name; });
    if (raw == raw_.end()) fail_input(where, "undefined variable '" + name + "' (vars: " + var_names(raw_) + ")");
    if (std::find(resolving_.begin(), resolving_.end(), name) != resolving_.end()) {
      std::string cycle;
      for (const auto& n : resolving_) cycle += n + " -> ";
      fail_input(where, "variables refer to each other in a cycle: " + cycle + name);
    }
    resolving_.push_back(name);
    std::string text = substitute(raw->second, recipe_.where(lines_.at(name)) + ": vars." + name);
    resolving_.pop_back();
    return resolved_[name] = text;
  }

  const Recipe& recipe_;
  const RecipeVars& raw_;
  const std::map<std::string, int>& lines_;
  const std::set<std::string>& given_;  // vars set with --set
  std::map<std::string, std::string> resolved_;
  std::vector<std::string> resolving_;
};

void check_keys(const Recipe& r, const YAML::Node& map, const std::set<std::string>& allowed,
                const std::string& step, const std::string& what) {
  for (const auto& kv : map) {
    const std::string key = kv.first.Scalar();
    if (!allowed.count(key))
      fail_input(r.where(line_of(kv.first), step, key),
                 "unknown " + what + " key (allowed: " + joined({allowed.begin(), allowed.end()}) + ")");
  }
}

void read_vars(const Recipe& r, const YAML::Node& node, RecipeVars& raw, std::map<std::string, int>& lines) {
  if (!node || node.IsNull()) return;
  if (!node.IsMap()) fail_input(r.where(line_of(node)), "vars: expected a mapping of name: value");
  for (const auto& kv : node) {
    const std::string name = kv.first.Scalar();
    const int line = line_of(kv.first);
    if (!is_var_name(name)) fail_input(r.where(line) + ": vars." + name, "not a valid variable name (letters, digits, _ - .)");
    if (lines.count(name)) fail_input(r.where(line) + ": vars." + name, "declared twice");
    if (!kv.second.IsScalar() && !kv.second.IsNull())
      fail_input(r.where(line) + ": vars." + name, "a variable holds one scalar value, not a list or mapping");
    raw.emplace_back(name, scalar_text(kv.second));
    lines[name] = line;
  }
}

// Returns the names of the vars the user set.
std::set<std::string> apply_overrides(const Recipe& r, const std::vector<std::string>& overrides, RecipeVars& raw) {
  std::set<std::string> given;
  for (const auto& o : overrides) {
    const size_t eq = o.find('=');
    if (eq == std::string::npos) fail_input("--set " + o, "expected name=value");
    const std::string name = o.substr(0, eq);
    auto var = std::find_if(raw.begin(), raw.end(), [&](const auto& v) { return v.first == name; });
    if (var == raw.end())
      fail_input("--set " + o, "'" + name + "' is not a variable of " + r.path + " (vars: " + var_names(raw) + ")");
    var->second = o.substr(eq + 1);
    given.insert(name);
  }
  return given;
}

RecipeValue read_value(const YAML::Node& node, const std::string& where, VarResolver& vars,
                       const RecipeConfinement& confinement) {
  RecipeValue v;
  auto item = [&](const YAML::Node& n) {
    if (!n.IsScalar() && !n.IsNull()) fail_input(where, "expected a scalar, a list of scalars, true or false");
    const std::string text = scalar_text(n);
    std::string value = vars.substitute(text, where);
    v.explicit_prefixes.push_back(vars.explicit_prefix(text));
    confinement.check(value, v.explicit_prefixes.back(), where, PathUse::if_it_looks_like_one);
    return value;
  };
  if (node.IsSequence()) {
    v.kind = RecipeValue::Kind::list;
    for (const auto& n : node) v.items.push_back(item(n));
    return v;
  }
  v.items.push_back(item(node));
  // A plain scalar (unquoted, also one that a var expanded to) of true/false is a flag switch.
  if (node.Tag() != "!" && is_boolean_text(v.items[0])) {
    v.kind = RecipeValue::Kind::boolean;
    v.items[0] = (v.items[0][0] == 't' || v.items[0][0] == 'T') ? "true" : "false";
  }
  return v;
}

RecipeStep read_step(const Recipe& r, const YAML::Node& node, VarResolver& vars,
                     const RecipeConfinement& confinement) {
  RecipeStep step;
  step.line = line_of(node);
  if (!node.IsMap()) fail_input(r.where(step.line), "a step is a mapping with name, tool and args");
  const YAML::Node name = node["name"];
  if (!name || !name.IsScalar() || name.Scalar().empty())
    fail_input(r.where(step.line), "a step needs a name (a non-empty string)");
  step.name = name.Scalar();
  check_keys(r, node, kStepKeys, step.name, "step");
  const YAML::Node tool = node["tool"];
  if (!tool || !tool.IsScalar() || tool.Scalar().empty())
    fail_input(r.where(step.line, step.name, "tool"), "missing (the modelpress tool this step runs)");
  step.tool = tool.Scalar();
  const YAML::Node args = node["args"];
  if (!args || args.IsNull()) return step;
  if (!args.IsMap()) fail_input(r.where(line_of(args), step.name, "args"), "expected a mapping of option: value");
  std::set<std::string> seen;
  for (const auto& kv : args) {
    RecipeArg arg;
    arg.key = kv.first.Scalar();
    arg.line = line_of(kv.first);
    const std::string where = r.where(arg.line, step.name, arg.key);
    if (!seen.insert(arg.key).second) fail_input(where, "given twice");
    arg.value = read_value(kv.second, where, vars, confinement);
    step.args.push_back(std::move(arg));
  }
  return step;
}

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_input(path, "cannot read the recipe");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::string Recipe::where(int line, const std::string& step, const std::string& key) const {
  std::string w = path + (line > 0 ? ":" + std::to_string(line) : "");
  if (!step.empty()) w += ": step '" + step + "'";
  if (!key.empty()) w += (step.empty() ? ": key '" : ", key '") + key + "'";
  return w;
}

Recipe load_recipe(const std::string& path, const std::vector<std::string>& overrides) {
  Recipe r;
  r.path = path;
  const std::string bytes = read_file_bytes(path);
  r.sha256 = sha256_hex(bytes);
  YAML::Node root;
  try {
    root = YAML::Load(bytes);
  } catch (const YAML::Exception& e) {
    // `{model: ${out}}` is the usual trap: YAML reads the braces of ${...} as a flow mapping's.
    const bool flow_trap = e.msg.find("flow") != std::string::npos && bytes.find("${") != std::string::npos;
    fail_input(r.where(e.mark.line + 1), "not valid YAML: " + e.msg +
                                             (flow_trap ? " (inside {...}, quote values that use ${...})" : ""));
  }
  if (!root.IsMap()) fail_input(path, "a recipe is a mapping with description, vars and steps");
  check_keys(r, root, kTopLevelKeys, "", "top-level");
  if (root["description"]) r.description = scalar_text(root["description"]);

  RecipeVars raw;
  std::map<std::string, int> lines;
  read_vars(r, root["vars"], raw, lines);
  const std::set<std::string> given = apply_overrides(r, overrides, raw);
  VarResolver vars(r, raw, lines, given);
  const RecipeConfinement confinement(path);
  for (const auto& v : raw) r.vars.emplace_back(v.first, vars.value(v.first));

  const YAML::Node steps = root["steps"];
  if (!steps || !steps.IsSequence() || steps.size() == 0) fail_input(path, "steps: expected a non-empty list of steps");
  std::set<std::string> names;
  for (const auto& node : steps) {
    RecipeStep step = read_step(r, node, vars, confinement);
    if (!names.insert(step.name).second) fail_input(r.where(step.line, step.name, "name"), "two steps have this name");
    r.steps.push_back(std::move(step));
  }
  return r;
}

namespace {
const RecipeContext* g_active_recipe = nullptr;
}

const RecipeContext* active_recipe() { return g_active_recipe; }

ActiveRecipeScope::ActiveRecipeScope(const RecipeContext& context) : previous_(g_active_recipe) {
  g_active_recipe = &context;
}

ActiveRecipeScope::~ActiveRecipeScope() { g_active_recipe = previous_; }

}  // namespace mp
