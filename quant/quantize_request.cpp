#include "quant/quantize_request.h"

#include <chrono>
#include <filesystem>

#include "lib/base/sha256.h"

namespace fs = std::filesystem;

namespace mp {

namespace {

nlohmann::json grid_request(const AffineGridOptions& g) {
  return {{"bits", g.bits},
          {"group_size", g.group_size},
          {"sym", g.sym},
          {"search", g.search == RangeSearch::mse ? "mse" : "minmax"},
          {"mse_norm", g.mse_norm},
          {"mse_steps", g.mse_steps},
          {"mse_max_shrink", g.mse_max_shrink},
          {"scale_type", std::string(c10::toString(g.scale_type))}};
}

nlohmann::json awq_request(const AwqOptions& a) {
  return {{"grid", a.scale.grid},
          {"duo_scaling", a.scale.duo_scaling},
          {"clip", a.clip},
          {"clip_steps", a.clipping.steps},
          {"clip_max_shrink", a.clipping.max_shrink},
          {"clip_tokens", a.clipping.sample_tokens},
          {"search_tokens", a.search_tokens}};
}

// Size and modification time of every file of the model: cheap, and they change when a file is
// rewritten. (Hashing the weights would cost minutes per resume for a 7B model.)
nlohmann::json model_files(const std::string& path) {
  nlohmann::json files = nlohmann::json::object();
  auto add = [&](const fs::path& file) {
    const auto modified = fs::last_write_time(file).time_since_epoch();
    files[file.filename().string()] = {
        {"bytes", fs::file_size(file)},
        {"modified_ns", std::chrono::duration_cast<std::chrono::nanoseconds>(modified).count()}};
  };
  if (fs::is_directory(path)) {
    for (const auto& entry : fs::directory_iterator(path))
      if (entry.is_regular_file() && entry.path().filename().string().front() != '.') add(entry.path());
  } else if (fs::is_regular_file(path)) {
    add(path);
  }
  return files;
}

std::string tensor_sha256(const at::Tensor& t) {
  const at::Tensor c = t.contiguous();
  Sha256 hash;
  hash.update(c.data_ptr(), c.nbytes());
  return hash.hex_digest();
}

}  // namespace

nlohmann::json quantize_request(const ModelSource& source, const QuantizePlan& plan, const at::Tensor& tokens) {
  nlohmann::json overrides = nlohmann::json::array();
  for (const auto& o : plan.overrides)
    overrides.push_back({{"pattern", o.pattern},
                         {"bits", o.bits ? nlohmann::json(*o.bits) : nlohmann::json()},
                         {"group_size", o.group_size ? nlohmann::json(*o.group_size) : nlohmann::json()}});
  nlohmann::json request = {{"method", method_name(plan.method)},
          {"awq", plan.awq ? awq_request(*plan.awq) : nlohmann::json()},
          {"round", plan.round},
          {"grid", grid_request(plan.grid)},
          {"gptq",
           {{"block_size", plan.gptq.block_size},
            {"damp", plan.gptq.damp},
            {"max_damp", plan.gptq.max_damp},
            {"act_order", plan.gptq.act_order},
            {"static_groups", plan.gptq.static_groups}}},
          {"true_sequential", plan.true_sequential},
          {"skip", plan.skip},
          {"overrides", overrides},
          {"calibration_batch", plan.batch},
          {"calibration_tokens", {{"shape", tokens.sizes().vec()}, {"sha256", tensor_sha256(tokens)}}},
          {"model_files", model_files(source.path())}};
  // Only when set, so that requests staged before the output stage existed still match.
  if (plan.calibrate_output) request["calibrate_output"] = true;
  return request;
}

}  // namespace mp
