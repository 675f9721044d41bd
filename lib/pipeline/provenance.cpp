#include "lib/pipeline/provenance.h"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <set>
#include <nlohmann/json.hpp>
#include <ATen/Parallel.h>

#include "lib/base/atomic_output.h"
#include "lib/base/error.h"
#include "lib/pipeline/recipe.h"
#include "lib/base/sha256.h"
#include "lib/base/shell_quote.h"
#include "lib/base/version.h"

namespace fs = std::filesystem;

namespace mp {

namespace {

std::string utc_iso8601(std::chrono::system_clock::time_point t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

nlohmann::ordered_json vars_json(const RecipeVars& vars) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& [name, value] : vars) j[name] = value;
  return j;
}

// Options that steer a run but not its results. They are left out of the recorded command, so a
// run killed and resumed writes the same bytes as one that ran through.
std::vector<std::string> without_run_control(const std::vector<std::string>& argv) {
  static const std::set<std::string> flags = {"--resume", "--quiet", "-q"};
  static const std::set<std::string> with_value = {"--stop-after-layer", "--stop-after-step"};
  std::vector<std::string> kept;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string name = argv[i].substr(0, argv[i].find('='));
    if (flags.count(argv[i])) continue;
    if (with_value.count(name)) {
      if (name == argv[i]) ++i;  // the value is the next argument
      continue;
    }
    kept.push_back(argv[i]);
  }
  return kept;
}

// An argument naming an existing file or directory, as a path relative to the working directory.
std::string relative_if_path(const std::string& arg) {
  std::error_code ec;
  if (arg.empty() || !fs::path(arg).is_absolute() || !fs::exists(arg, ec)) return arg;
  const fs::path relative = fs::path(arg).lexically_relative(fs::current_path(ec));
  return relative.empty() ? arg : relative.generic_string();
}

// The command as outputs record it: without the output path (the same job written to two places
// gives the same bytes) and with input paths relative to the working directory (no trace of the
// builder's file system). The inputs themselves are recorded by hash.
std::vector<std::string> portable(const std::vector<std::string>& argv) {
  static const std::set<std::string> output_options = {"--out", "-o", "--output"};
  std::vector<std::string> kept;
  for (size_t i = 0; i < argv.size(); ++i) {
    const size_t equals = argv[i].find('=');
    const std::string name = argv[i].substr(0, equals);
    if (output_options.count(name)) {
      if (equals == std::string::npos) ++i;  // the value is the next argument
      continue;
    }
    kept.push_back(equals == std::string::npos || name.rfind("--", 0) != 0
                       ? relative_if_path(argv[i])
                       : name + "=" + relative_if_path(argv[i].substr(equals + 1)));
  }
  return kept;
}

}  // namespace

bool is_wall_clock_record(const std::string& name) {
  auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return name == "manifest.json" || ends_with(".manifest.json") || ends_with(".jsonl");
}

Provenance& Provenance::current() {
  static Provenance record;
  return record;
}

void Provenance::begin_command(const std::vector<std::string>& argv) {
  std::vector<std::string> shown = without_run_control(argv);
  if (!shown.empty()) shown[0] = "modelpress";  // not the build path, which differs between machines
  *this = Provenance();
  command_ = shell_command_line(shown);
  portable_command_ = shell_command_line(portable(shown));
}

void Provenance::add_input(const std::string& role, const std::string& path) {
  if (path.empty() || path == "-") return;
  for (auto& [r, p] : inputs_)
    if (r == role) {
      p = path;
      return;
    }
  inputs_.emplace_back(role, path);
}

std::string sha256_of_input(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return sha256_file(path);
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(path))
    if (entry.is_regular_file() && !is_wall_clock_record(entry.path().filename().string()))
      names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  Sha256 listing;
  for (const std::string& name : names) listing.update(name + " " + sha256_file(path + "/" + name) + "\n");
  return listing.hex_digest();
}

const std::string& Provenance::input_hash(const std::string& path) const {
  auto it = input_hashes_.find(path);
  if (it == input_hashes_.end()) it = input_hashes_.emplace(path, sha256_of_input(path)).first;
  return it->second;
}

std::vector<std::pair<std::string, std::string>> Provenance::stamp() const {
  std::vector<std::pair<std::string, std::string>> s = {{"version", version()}, {"commit", git_commit()}};
  if (!portable_command_.empty()) s.emplace_back("command", portable_command_);
  if (const RecipeContext* recipe = active_recipe()) {
    s.emplace_back("recipe", relative_if_path(recipe->path));
    s.emplace_back("recipe.sha256", recipe->sha256);
    s.emplace_back("recipe.step", recipe->step);
    s.emplace_back("recipe.vars", vars_json(recipe->vars).dump());
  }
  for (const auto& [role, path] : inputs_) s.emplace_back("input." + role + ".sha256", input_hash(path));
  if (seed_) s.emplace_back("seed", std::to_string(*seed_));
  return s;
}

std::string Provenance::manifest_json(const std::vector<std::pair<std::string, std::string>>& files) const {
  nlohmann::ordered_json m;
  m["modelpress"] = {{"version", version()}, {"commit", git_commit()}};
  m["command"] = command_;
  if (const RecipeContext* recipe = active_recipe())
    m["recipe"] = {{"path", recipe->path}, {"sha256", recipe->sha256}, {"step", recipe->step},
                   {"vars", vars_json(recipe->vars)}};
  nlohmann::ordered_json inputs = nlohmann::ordered_json::object();
  for (const auto& [role, path] : inputs_) inputs[role] = {{"path", path}, {"sha256", input_hash(path)}};
  m["inputs"] = inputs;
  if (seed_) m["seed"] = *seed_;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_steady_).count();
  m["run"] = {{"started_utc", utc_iso8601(started_)}, {"elapsed_seconds", elapsed}, {"threads", at::get_num_threads()}};
  nlohmann::ordered_json listed = nlohmann::ordered_json::object();
  for (const auto& [name, path] : files)
    listed[name] = {{"bytes", static_cast<uint64_t>(fs::file_size(path))}, {"sha256", sha256_file(path)}};
  m["files"] = listed;
  return m.dump(2) + "\n";
}

std::map<std::string, std::string> with_provenance(std::map<std::string, std::string> base) {
  for (auto& [key, value] : Provenance::current().stamp()) base["modelpress." + key] = value;
  return base;
}

void write_directory_manifest(const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    const std::string name = fs::relative(entry.path(), dir).generic_string();
    if (entry.is_regular_file() && name != "manifest.json") files.emplace_back(name, entry.path().string());
  }
  std::sort(files.begin(), files.end());
  write_file_atomically(dir + "/manifest.json", Provenance::current().manifest_json(files));
}

void write_file_manifest(const std::string& file) {
  const std::string name = fs::path(file).filename().string();
  write_file_atomically(file + ".manifest.json", Provenance::current().manifest_json({{name, file}}));
}

}  // namespace mp
