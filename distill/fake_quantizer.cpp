#include "distill/fake_quantizer.h"

#include <ATen/Parallel.h>

#include <regex>

#include "formats/gguf_codecs.h"
#include "formats/gguf_file.h"
#include "formats/gguf_llama_names.h"
#include "lib/arch/architecture.h"
#include "lib/base/error.h"
#include "lib/runtime/model_source.h"
#include "quant/rtn.h"

namespace mp {

namespace {

const char* kTargetChoices = "gguf:TYPE (a type `export --type` takes, e.g. gguf:Q2_K) or gptq:wBITSgGROUP (e.g. gptq:w4g128)";

QuantizeTarget parse_gptq_target(const std::string& spec, const std::string& body) {
  static const std::regex form("w([0-9]+)g(-1|[0-9]+)");
  std::smatch m;
  if (!std::regex_match(body, m, form)) fail_input("--quantize", "'" + spec + "' is not " + kTargetChoices);
  QuantizeTarget t;
  t.spec = spec;
  t.gguf = false;
  t.gptq.bits = std::stoi(m[1]);
  t.gptq.group_size = std::stoll(m[2]);
  t.gptq.sym = true;  // `quantize --method gptq|rtn`'s default, as HF GPTQ checkpoints usually are
  if (t.gptq.bits < 2 || t.gptq.bits > 8) fail_input("--quantize", "'" + spec + "': bits must be 2..8");
  if (t.gptq.group_size == 0) fail_input("--quantize", "'" + spec + "': the group size must be positive or -1");
  return t;
}

// decode(encode(x)) of every row of x through `type`'s codec, as the exporter writes and the
// runtime reads it.
at::Tensor codec_round_rows(GgmlType type, const at::Tensor& x) {
  const at::Tensor in = x.to(at::kFloat).contiguous();
  const int64_t n = in.size(-1), rows = in.numel() / n;
  const uint64_t row_bytes = ggml_row_bytes(type, n);
  at::Tensor out = at::empty_like(in);
  const float* src = in.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    std::vector<uint8_t> bytes(row_bytes);
    for (int64_t r = begin; r < end; ++r) {
      quantize_row(type, src + r * n, bytes.data(), n);
      dequantize_row(type, bytes.data(), dst + r * n, n);
    }
  });
  return out;
}

std::string gptq_grid_name(const AffineGridOptions& g) {
  return "w" + std::to_string(g.bits) + "g" + std::to_string(g.group_size);
}

}  // namespace

QuantizeTarget parse_quantize_target(const std::string& spec) {
  const size_t colon = spec.find(':');
  const std::string kind = spec.substr(0, colon), body = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (kind == "gptq") return parse_gptq_target(spec, body);
  if (kind != "gguf" || body.empty()) fail_input("--quantize", "'" + spec + "' is not " + kTargetChoices);
  QuantizeTarget t;
  t.spec = spec;
  try {
    t.gguf_type = parse_gguf_export_type(body, false);
  } catch (const Error&) {  // it names --type, an option distill-train does not have
    fail_input("--quantize", "'" + spec + "': unknown GGUF type (choices: " + gguf_export_type_choices() + ")");
  }
  return t;
}

FakeQuantizer::FakeQuantizer(QuantizeTarget target, const ModelConfig& config)
    : target_(std::move(target)), config_(config) {
  if (!target_.gguf) {
    gptq_grid_ = std::make_shared<AffineGrid>(target_.gptq);
    for (int64_t i = 0; i < config.num_layers; ++i)
      for (const LayerTensor& t : architecture_of(config).layer_tensors(config))
        if (t.kind == LayerTensor::Kind::weight && t.shape.size() == 2)
          grid_names_[hf_names::layer(i, t.hf)] = gptq_grid_name(target_.gptq);
    return;
  }
  for (const LlamaTensorName& name : llama_tensor_names(config)) {
    const TensorTypeChoice choice =
        choose_tensor_type(target_.gguf_type, name, name.shape, config.num_layers,
                           config.num_heads / config.num_kv_heads, config.tie_word_embeddings);
    if (choice.used != choice.wanted)
      fallbacks_.push_back({name.hf, ggml_type_name(choice.wanted), ggml_type_name(choice.used), choice.why});
    if (choice.used == GgmlType::F32) continue;
    gguf_tensors_[name.hf] = {choice.used, name.gguf_offset};
    grid_names_[name.hf] = ggml_type_name(choice.used);
  }
}

void FakeQuantizer::take_tensor_types(QuantizeTarget& target, const std::string& path, const std::string& option) {
  if (!target.gguf) fail_input(option, "per-tensor types need a gguf: target, not " + target.spec);
  if (!is_gguf_file(path)) fail_input(option, "the per-tensor types are read from a GGUF --init-weights, not " + path);
  const GgufFile file(path);
  for (const GgufTensorInfo& info : file.tensors())
    if (info.shape().size() == 2) target.gguf_type.overrides.allocated[info.name] = info.type;
}

void FakeQuantizer::freeze_grids(const std::string& path, const std::string& option, bool per_block_better) {
  if (!target_.gguf) fail_input(option, "a frozen grid needs a gguf: target (" + target_.spec + " re-chooses its scales)");
  if (!is_gguf_file(path)) fail_input(option, "a frozen grid needs a GGUF file to read it from, not " + path);
  std::map<std::string, GgmlType> types;
  for (const auto& [name, t] : gguf_tensors_) types[name] = t.type;
  frozen_ = read_stored_grids(path, config_, types);
  per_block_better_ = per_block_better;
}

at::Tensor FakeQuantizer::round(const std::string& name, const at::Tensor& w) const {
  at::NoGradGuard no_grad;
  if (!grid_names_.count(name)) return w.detach();
  const at::Tensor cpu = w.detach().to(at::kCPU, at::kFloat);
  at::Tensor q;
  if (const auto frozen = frozen_.find(name); frozen != frozen_.end()) {
    q = level_on_bound_grid(per_block_better_ ? better_grid_per_block(frozen->second, cpu) : frozen->second, cpu)
            .dequantize();
  } else if (gptq_grid_) {
    q = quantize_rtn(cpu, gptq_grid_).dequantize();
  } else {
    const GgufTensor& t = gguf_tensors_.at(name);
    q = t.offset == 0 ? codec_round_rows(t.type, cpu) : codec_round_rows(t.type, cpu + t.offset) - t.offset;
  }
  return q.to(w.device());
}

at::Tensor FakeQuantizer::apply(const std::string& name, const at::Tensor& w) const {
  if (!grid_names_.count(name)) return w;
  // round(w) + 0 with the gradient of w: (w − w.detach()) is exactly zero in value.
  return round(name, w) + (w - w.detach());
}

}  // namespace mp
