#include "distill/prune.h"

#include <algorithm>
#include <filesystem>

#include "distill/prune_importance.h"
#include "distill/prune_model.h"
#include "lib/base/error.h"
#include "lib/base/progress.h"
#include "lib/runtime/llama_model.h"

namespace mp {

namespace {

nlohmann::json shape_json(const PrunedShape& s, int64_t parameters) {
  return {{"num_hidden_layers", s.layers}, {"num_attention_heads", s.heads}, {"num_key_value_heads", s.kv_heads},
          {"intermediate_size", s.ffn},    {"hidden_size", s.hidden},        {"parameters", parameters}};
}

}  // namespace

nlohmann::json run_prune(const PruneRequest& r) {
  const RuntimeOptions runtime = apply_runtime_settings(r.runtime);
  if (!std::filesystem::is_directory(r.model))
    fail_input(r.model, "not a model directory (prune reads HF checkpoints: config.json and safetensors)");
  if (r.batch <= 0) fail_input("--batch", "must be positive");
  auto source = open_model(r.model);
  const ModelConfig& c = source->config();
  const PrunedShape shape = choose_pruned_shape(c, r.targets);

  CalibrationOptions calibration = r.calibration;
  if (calibration.seqlen <= 0) calibration.seqlen = std::min<int64_t>(2048, c.max_position_embeddings);
  const at::Tensor windows = sample_calibration(source->tokenizer(), calibration);
  LlamaModel model(source, runtime);
  Progress progress("prune", c.num_layers, "layers");
  const PruneImportance importance =
      measure_importance(model, windows, r.batch, [&](int64_t) { progress.advance(1); });
  progress.finish();
  const KeptUnits kept = choose_kept_units(c, importance, shape);

  nlohmann::json report = {{"model", r.model},
                           {"calibration", {{"file", r.calibration.file}, {"windows", windows.size(0)},
                                            {"seqlen", windows.size(1)}, {"seed", calibration.seed}}},
                           {"before", shape_json(full_shape(c), pruned_parameter_count(c, full_shape(c)))},
                           {"after", shape_json(shape, pruned_parameter_count(c, shape))},
                           {"layer_block_influence", importance.layer},
                           {"kept_layers", kept.layers}};
  write_pruned_model(*source, shape, kept, report, r.out);
  return report;
}

}  // namespace mp
