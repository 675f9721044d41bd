#include "distill/train_checkpoint.h"

#include "formats/config_keys.h"
#include "formats/safetensors.h"
#include "lib/base/atomic_output.h"
#include "lib/base/error.h"

namespace mp {

void save_checkpoint(const std::string& dir, const StudentModel& student, const AdamW& optimizer,
                     const TrainProgress& progress, const nlohmann::json& settings) {
  AtomicDirectory out(dir);
  std::vector<std::pair<std::string, at::Tensor>> params;
  for (const auto& [name, value] : student.parameters()) params.emplace_back(name, value.detach().cpu());
  save_safetensors(out.file("model.safetensors"), params);
  std::vector<std::pair<std::string, at::Tensor>> moments;
  for (const auto& [name, value] : optimizer.state()) moments.emplace_back(name, value.cpu());
  save_safetensors(out.file("optimizer.safetensors"), moments);
  const nlohmann::json state = {{"step", progress.step},
                                {"samples", progress.samples},
                                {"optimizer_steps", optimizer.steps_taken()},
                                {"settings", settings}};
  write_file_atomically(out.file("state.json"), state.dump(2) + "\n");
  out.commit();
}

TrainProgress load_checkpoint(const std::string& dir, StudentModel& student, AdamW& optimizer,
                              const nlohmann::json& settings) {
  const std::string where = dir + "/state.json";
  const nlohmann::json state = read_json_file(where);
  const ConfigKeys counts(state, where);
  const nlohmann::json made_with = counts.required<nlohmann::json>("settings");
  if (!made_with.is_object()) fail_input(where, "\"settings\" must be an object");
  for (const auto& [key, value] : settings.items())
    if (!made_with.contains(key) || made_with[key] != value)
      fail_input(where, "checkpoint was made with " + key + " = " + made_with.value(key, nlohmann::json()).dump() +
                            ", this run has " + value.dump() + "; resume with the same settings");
  student.load_values(dir + "/model.safetensors");
  const SafetensorsFile file(dir + "/optimizer.safetensors");
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& info : file.tensors()) tensors.emplace_back(info.name, file.tensor(info));
  optimizer.load_state(tensors, counts.required<int64_t>("optimizer_steps"));
  return {counts.required<int64_t>("step"), counts.required<int64_t>("samples")};
}

}  // namespace mp
