#include "quant/quantize_plan.h"

#include <regex>
#include <sstream>

#include "lib/base/error.h"
#include "lib/base/name_pattern.h"

namespace mp {

namespace {

bool matches(const std::string& pattern, const std::string& module) {
  return std::regex_search(module, compile_name_pattern(pattern, "--skip/--override"));
}

void validate_grid(const AffineGridOptions& g, const std::string& where) {
  if (g.bits < 2 || g.bits > 8) fail_input(where, "bits must be 2..8, got " + std::to_string(g.bits));
  if (g.group_size != -1 && g.group_size < 1)
    fail_input(where, "group size must be positive or -1 (one group per row), got " + std::to_string(g.group_size));
}

}  // namespace

const char* method_name(QuantMethod method) { return method == QuantMethod::rtn ? "rtn" : "gptq"; }

bool QuantizePlan::skipped(const std::string& module) const {
  for (const auto& p : skip)
    if (matches(p, module)) return true;
  return false;
}

AffineGridOptions QuantizePlan::grid_options_for(const std::string& module) const {
  AffineGridOptions g = grid;
  for (const auto& o : overrides)
    if (matches(o.pattern, module)) {
      if (o.bits) g.bits = *o.bits;
      if (o.group_size) g.group_size = *o.group_size;
    }
  return g;
}

std::shared_ptr<const Grid> QuantizePlan::grid_for(const std::string& module) const {
  if (module_grids) return module_grids(module);
  if (skipped(module)) return nullptr;
  return std::make_shared<AffineGrid>(grid_options_for(module));
}

void QuantizePlan::validate() const {
  validate_grid(grid, "--bits/--group-size");
  for (const auto& p : skip) (void)compile_name_pattern(p, "--skip");
  for (const auto& o : overrides) {
    AffineGridOptions g = grid;
    if (o.bits) g.bits = *o.bits;
    if (o.group_size) g.group_size = *o.group_size;
    validate_grid(g, "--override " + o.pattern);
  }
  if (gptq.damp <= 0) fail_input("--damp", "must be positive");
  if (gptq.block_size < 1) fail_input("--block", "must be positive");
  if (batch < 1) fail_input("--calib-batch", "must be positive");
  if (awq && awq->scale.grid < 1) fail_input("--grid", "must be at least 1");
}

ModuleOverride parse_module_override(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0)
    fail_input("--override", "'" + text + "' is not PATTERN:bits=N,group=G");
  ModuleOverride o;
  o.pattern = text.substr(0, colon);
  (void)compile_name_pattern(o.pattern, "--override");
  std::stringstream items(text.substr(colon + 1));
  for (std::string item; std::getline(items, item, ',');) {
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq);
    try {
      if (eq == std::string::npos) throw std::invalid_argument(item);
      const std::string value = item.substr(eq + 1);
      if (key == "bits") o.bits = std::stoi(value);
      else if (key == "group" || key == "group_size") o.group_size = std::stoll(value);
      else throw std::invalid_argument(key);
    } catch (const std::exception&) {
      fail_input("--override", "'" + item + "' in '" + text + "' is not bits=N or group=G");
    }
  }
  return o;
}

}  // namespace mp
