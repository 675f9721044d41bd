// open_model: the one place that decides which reader a path needs.
#include <filesystem>

#include "formats/gguf_file.h"
#include "lib/base/error.h"
#include "lib/runtime/gguf_model_source.h"
#include "lib/runtime/hf_model_source.h"

namespace fs = std::filesystem;

namespace mp {

std::shared_ptr<const ModelSource> open_model(const std::string& path) {
  if (fs::is_directory(path)) return std::make_shared<HfModelSource>(path);
  if (!fs::exists(path)) fail_input(path, "no such file or directory");
  if (is_gguf_file(path)) return std::make_shared<GgufModelSource>(path);
  fail_input(path, "not a model directory (expected config.json and safetensors) or a GGUF file");
}

}  // namespace mp
