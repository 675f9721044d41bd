// A dense float HF checkpoint written a layer at a time by the quantization driver: for models
// that are transformed but not rounded, such as AWQ's scaled model (--export-scaled), which other
// quantizers (the GGUF exporter, llama.cpp) then round their own way.
#pragma once
#include "formats/gptq_checkpoint.h"

namespace mp {

class FloatCheckpointSink : public GptqCheckpointSink {
 public:
  using GptqCheckpointSink::GptqCheckpointSink;

 protected:
  nlohmann::json quantization_config() const override { return nullptr; }
};

}  // namespace mp
