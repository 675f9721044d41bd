// The GPTQ/AWQ checkpoint loader: the input's first line is config.json's quantization_config, the
// rest a safetensors file holding the packed tensors of one linear "l" (qweight, qzeros, scales,
// g_idx), read as HfModelSource reads a quantized linear and dequantized.
#include <nlohmann/json.hpp>

#include "formats/awq_checkpoint.h"
#include "formats/gptq_checkpoint.h"
#include "formats/json_file.h"
#include "tests/fuzz/fuzz_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto input = mp::fuzz::split_first_line(data, size);
  const std::string &config = input.first, &shard = input.second;
  return mp::fuzz::run([&] {
    const auto qc = mp::parse_json_text("config.json", config.data(), config.data() + config.size());
    mp::fuzz::write_scratch("model.safetensors", shard);
    const mp::SafetensorsCheckpoint checkpoint(mp::fuzz::scratch_dir());
    const bool awq = qc.is_object() && qc.value("quant_method", nlohmann::json()) == "awq";
    const mp::QuantizedLinear q =
        awq ? mp::read_awq_linear(checkpoint, "l", mp::AwqScheme::from_config(qc, "config.json"), 1, 1)
            : mp::read_gptq_linear(checkpoint, "l", mp::GptqScheme::from_config(qc, "config.json"), 1, 1);
    (void)q.dequantize().sum().item<double>();
  });
}
