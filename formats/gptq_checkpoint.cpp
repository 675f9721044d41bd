#include "formats/gptq_checkpoint.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <regex>
#include <set>

#include "formats/config_keys.h"
#include "formats/json_file.h"
#include "lib/arch/architecture.h"
#include "lib/base/error.h"
#include "lib/base/name_pattern.h"
#include "lib/pipeline/provenance.h"
#include "lib/base/version.h"

namespace fs = std::filesystem;

namespace mp {

namespace {

// Packed words must be whole: rows of `in` codes along the input and `out` zero points along the
// output fill 32-bit words only when they are multiples of this.
int64_t word_alignment(int bits) { return 32 / std::gcd(bits, 32); }

// Beside the layers in the staging directory: the request and the records of the finished layers.
constexpr const char* kProgressFile = "progress.json";
constexpr const char* kIndexFile = "model.safetensors.index.json";

// The first setting in which two requests differ, as "/grid/bits = 4, this run has 3", or "".
std::string first_difference(const nlohmann::json& previous, const nlohmann::json& current) {
  const nlohmann::json a = previous.flatten(), b = current.flatten();
  auto shown = [](const nlohmann::json& flat, const std::string& key) {
    return flat.contains(key) ? flat[key].dump() : std::string("nothing");
  };
  for (const auto* side : {&a, &b})
    for (const auto& item : side->items())
      if (!a.contains(item.key()) || !b.contains(item.key()) || a[item.key()] != b[item.key()])
        return item.key() + " = " + shown(a, item.key()) + ", this run has " + shown(b, item.key());
  return "";
}

void copy_if_present(const fs::path& from_dir, const std::string& staging, const char* name) {
  const fs::path from = from_dir / name;
  if (fs::exists(from)) fs::copy_file(from, fs::path(staging) / name, fs::copy_options::overwrite_existing);
}

}  // namespace

GptqCheckpointSink::GptqCheckpointSink(const std::string& out_dir, const ModelConfig& config, const QuantizePlan& plan)
    : out_(out_dir, AtomicDirectory::Partial::keep_for_resume), config_(config), plan_(plan) {}

GptqCheckpointFormat GptqCheckpointSink::format() const {
  // "gptq" stores zero - 1, which cannot hold the zero point 0 an asymmetric group whose weights
  // are all non-negative gets (readers would decode the wrapped value); "gptq_v2" stores zero as is.
  return plan_.grid.sym ? GptqCheckpointFormat::gptq : GptqCheckpointFormat::gptq_v2;
}

std::string GptqCheckpointSink::shard_name(int64_t shard) const {
  char name[64];
  std::snprintf(name, sizeof name, "model-%05lld-of-%05lld.safetensors", static_cast<long long>(shard + 1),
                static_cast<long long>(config_.num_layers + 1));
  return name;
}

std::vector<nlohmann::json> GptqCheckpointSink::begin(const nlohmann::json& request, bool resume) {
  nlohmann::json full_request = request;
  full_request["output"] = {{"quantization_config", quantization_config()}, {"model_config", config_.raw}};
  progress_ = {{"request", full_request}, {"layers", nlohmann::json::array()}};
  const std::string progress_path = out_.file(kProgressFile);
  const bool resuming = resume && fs::exists(progress_path);
  if (resume && !resuming)
    std::fprintf(stderr, "quantize: no interrupted run to resume in %s; starting at layer 0\n", out_.staging().c_str());
  if (!resuming) {
    out_.start(false);
    return {};
  }
  // Checked before the staging directory is taken over, so that a refused resume leaves it as it was.
  const nlohmann::json previous = read_json_file(progress_path);
  if (!previous.contains("request") || !previous.contains("layers") || !previous["layers"].is_array())
    fail_input(progress_path, "not a quantization progress record");
  const std::string difference = first_difference(previous["request"], full_request);
  if (!difference.empty())
    fail_input(progress_path, "the interrupted run had " + difference + "; rerun without --resume to start over");
  std::vector<nlohmann::json> records = previous["layers"].get<std::vector<nlohmann::json>>();
  progress_["layers"] = previous["layers"];
  std::set<std::string> finished_shards;
  for (size_t i = 0; i < records.size(); ++i) finished_shards.insert(shard_name(static_cast<int64_t>(i)));
  // The index may list one more shard: a layer written just before the kill, not yet recorded.
  // Parsed in file order, so the final index lists the tensors as an uninterrupted run does.
  const nlohmann::ordered_json index = read_ordered_json_file(out_.file(kIndexFile));
  for (const auto& [name, shard] : index.at("weight_map").items())
    if (finished_shards.count(shard.get<std::string>())) weight_map_[name] = shard;
  for (const auto& record : records)
    for (const auto& module : record.value("padded", nlohmann::json::array()))
      padded_.push_back(module.get<std::string>());
  out_.start(true);
  if (!records.empty()) resumed_ = std::make_unique<SafetensorsCheckpoint>(out_.staging());
  if (static_cast<int64_t>(records.size()) > config_.num_layers)
    std::fprintf(stderr, "quantize: resuming: all %lld layers and the output stage were finished\n",
                 static_cast<long long>(config_.num_layers));
  else
    std::fprintf(stderr, "quantize: resuming: %zu of %lld layers were finished\n", records.size(),
                 static_cast<long long>(config_.num_layers));
  return records;
}

DecoderLayerWeights GptqCheckpointSink::read_layer(int64_t index) const {
  if (!resumed_) fail_runtime("no interrupted run to read layer " + std::to_string(index) + " from");
  // Copies, so that the mapped pages can go and the layer runs on aligned memory as it did when
  // it was quantized.
  auto read = [&](const std::string& name) {
    if (!resumed_->has(name)) return at::Tensor();
    at::Tensor t = resumed_->tensor(name).to(at::kFloat).clone();
    resumed_->release(name);
    return t;
  };
  // A linear's weight is either stored as it is or replaced by its packed tensors; a bias beside a
  // packed weight is stored as it is.
  const std::string weight_suffix = ".weight";
  return assemble_layer(config_, index, [&](const std::string& suffix) {
    const std::string name = hf_names::layer(index, suffix);
    const bool is_weight = suffix.size() > weight_suffix.size() &&
                           suffix.compare(suffix.size() - weight_suffix.size(), weight_suffix.size(), weight_suffix) == 0;
    if (resumed_->has(name) || !is_weight) return read(name);
    const std::string linear = suffix.substr(0, suffix.rfind('.'));
    const auto [out, in] = config_.linear_shape(linear);
    return unpack_linear(*resumed_, hf_names::layer(index, linear), out, in);
  });
}

void GptqCheckpointSink::add_linear(int64_t index, const std::string& suffix, const QuantizedLinear& q) {
  packed_[suffix] = pack_linear(hf_names::layer(index, suffix), q);
}

void GptqCheckpointSink::write_layer(int64_t index, const DecoderLayerWeights& dense, const nlohmann::json& record) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  auto add = [&](const std::string& suffix, const at::Tensor& t) {
    if (t.defined()) tensors.emplace_back(hf_names::layer(index, suffix), t.contiguous().cpu());
  };
  for (const LayerTensor& t : architecture_of(config_).layer_tensors(config_)) {
    auto it = t.kind == LayerTensor::Kind::weight ? packed_.find(t.hf.substr(0, t.hf.rfind('.'))) : packed_.end();
    if (it == packed_.end()) {
      add(t.hf, dense.tensor(t.slot()));
    } else {
      for (auto& [name, packed] : it->second) add(it->first + "." + name, packed);
    }
  }
  packed_.clear();
  nlohmann::json committed = record;
  committed["padded"] = nlohmann::json::array();
  for (const auto& module : padded_)
    if (module.rfind(hf_names::layer(index, ""), 0) == 0) committed["padded"].push_back(module);
  commit_stage(index, tensors, committed);
}

void GptqCheckpointSink::stage_output_linear(const std::string& module, const QuantizedLinear& q) {
  for (auto& [name, packed] : pack_linear(module, q)) output_stage_.emplace_back(module + "." + name, packed.contiguous().cpu());
}

void GptqCheckpointSink::commit_output_stage(const nlohmann::json& record) {
  commit_stage(config_.num_layers, output_stage_, record);
  output_stage_.clear();
}

void GptqCheckpointSink::commit_stage(int64_t index, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                                      const nlohmann::json& record) {
  const std::string shard = shard_name(index);
  save_safetensors(out_.file(shard), tensors, with_provenance({{"format", "pt"}}));
  for (const auto& kv : tensors) weight_map_[kv.first] = shard;
  write_index();
  // The stage counts as finished once its record is in: a kill before that redoes it.
  progress_["layers"].push_back(record);
  write_file_atomically(out_.file(kProgressFile), progress_.dump(1));
}

void GptqCheckpointSink::forget_progress() { fs::remove(out_.file(kProgressFile)); }

void GptqCheckpointSink::write_index() const {
  const nlohmann::json qc = quantization_config();
  nlohmann::ordered_json index;
  index["metadata"] = {{"format", qc.is_null() ? "pt" : qc["quant_method"]}};
  index["weight_map"] = weight_map_;
  write_file_atomically(out_.file(kIndexFile), index.dump(2));
}

std::vector<std::pair<std::string, at::Tensor>> GptqCheckpointSink::pack_linear(const std::string& module,
                                                                                const QuantizedLinear& q) {
  const int64_t align = word_alignment(q.bits());
  QuantizedLinear padded = pad_quantized_linear(q, align, align);
  if (padded.codes.sizes() != q.codes.sizes()) padded_.push_back(module);
  GptqTensors t = pack_gptq(padded, format());
  return {{"qweight", t.qweight}, {"qzeros", t.qzeros}, {"scales", t.scales}, {"g_idx", t.g_idx}};
}

nlohmann::json GptqCheckpointSink::quantization_config() const {
  const std::string method = plan_.awq ? std::string("awq+") + method_name(plan_.method) : method_name(plan_.method);
  nlohmann::json qc = {{"quant_method", "gptq"},
                       {"bits", plan_.grid.bits},
                       {"group_size", plan_.grid.group_size},
                       {"desc_act", plan_.gptq.act_order},
                       {"sym", plan_.grid.sym},
                       {"damp_percent", plan_.gptq.damp},
                       {"true_sequential", plan_.true_sequential},
                       {"static_groups", plan_.gptq.static_groups},
                       {"checkpoint_format", format() == GptqCheckpointFormat::gptq ? "gptq" : "gptq_v2"},
                       {"quantizer", std::string("modelpress:") + version()},
                       {"modelpress_method", method}};
  nlohmann::json dynamic = nlohmann::json::object();
  for (const auto& p : plan_.skip) dynamic["-:" + p] = nlohmann::json::object();
  for (const auto& o : plan_.overrides) {
    nlohmann::json rule = nlohmann::json::object();
    if (o.bits) rule["bits"] = *o.bits;
    if (o.group_size) rule["group_size"] = *o.group_size;
    dynamic["+:" + o.pattern] = rule;
  }
  if (!dynamic.empty()) qc["dynamic"] = dynamic;
  return qc;
}

at::Tensor GptqCheckpointSink::unpack_linear(const SafetensorsCheckpoint& checkpoint, const std::string& module,
                                             int64_t out_features, int64_t in_features) const {
  const GptqScheme scheme = GptqScheme::from_config(quantization_config(), out_.file(kProgressFile));
  return read_gptq_linear(checkpoint, module, scheme, out_features, in_features).dequantize();
}

void GptqCheckpointSink::commit(const ModelSource& source, const nlohmann::json& report) {
  std::vector<std::pair<std::string, at::Tensor>> tensors = {{hf_names::embed, source.tensor(hf_names::embed).contiguous()},
                                                             {hf_names::final_norm, source.tensor(hf_names::final_norm).contiguous()}};
  if (source.has(hf_names::lm_head) && !config_.tie_word_embeddings)
    tensors.emplace_back(hf_names::lm_head, source.tensor(hf_names::lm_head).contiguous());
  const std::string shard = shard_name(config_.num_layers);
  save_safetensors(out_.file(shard), tensors, with_provenance({{"format", "pt"}}));
  for (const auto& kv : tensors) {
    weight_map_[kv.first] = shard;
    source.release(kv.first);
  }
  tensors.clear();
  write_index();

  nlohmann::json qc = quantization_config();
  if (!padded_.empty()) qc["modelpress_padded_modules"] = padded_;
  nlohmann::json config = config_.raw;
  if (!qc.is_null()) config["quantization_config"] = qc;
  write_file_atomically(out_.file("config.json"), config.dump(2));
  write_file_atomically(out_.file("quantize_report.json"), report.dump(2));
  for (const char* name : {"tokenizer.model", "tokenizer_config.json", "tokenizer.json", "special_tokens_map.json",
                           "generation_config.json"})
    copy_if_present(source.path(), out_.staging(), name);
  if (!padded_.empty())
    std::fprintf(stderr,
                 "quantize: %zu module(s) have dimensions the %d-bit packed format cannot hold (e.g. %s); they are "
                 "zero-padded: modelpress reads them, GPU kernels (vLLM, transformers) will refuse them\n",
                 padded_.size(), plan_.grid.bits, padded_.front().c_str());
  fs::remove(out_.file(kProgressFile));
  write_directory_manifest(out_.staging());
  out_.commit();
}

namespace {

void check_gptq_bits(int bits, const std::string& where, const std::string& key) {
  if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
    fail_input(where, "GPTQ " + key + " must be 2, 3, 4 or 8, got " + std::to_string(bits));
}

// -1: one group per row.
void check_group_size(int64_t group_size, const std::string& where, const std::string& key) {
  if (group_size < -1 || group_size == 0)
    fail_input(where, key + " must be -1 or a positive integer, got " + std::to_string(group_size));
}

// GPTQModel's `dynamic`: {"+:REGEX": {bits, group_size}, "-:REGEX": {}}. Checked whole here, so that
// for_module() meets neither a malformed regex nor a rule of the wrong type later.
void check_dynamic_rules(const nlohmann::json& dynamic, const std::string& where) {
  if (!dynamic.is_object()) fail_input(where, "quantization_config.dynamic must be an object");
  for (const auto& [key, rule] : dynamic.items()) {
    const std::string field = "quantization_config.dynamic[\"" + key.substr(0, 80) + "\"]";
    if (key.rfind("+:", 0) != 0 && key.rfind("-:", 0) != 0) fail_input(where, field + ": keys start with +: or -:");
    (void)compile_name_pattern(key.substr(2), where + ": " + field);
    if (!rule.is_object()) fail_input(where, field + " must be an object");
    // contains(), not has(): a null value is refused too, since for_module() could not read it.
    const ConfigKeys values(rule, where, field);
    if (rule.contains("bits")) check_gptq_bits(values.required<int>("bits"), where, field + ".bits");
    if (rule.contains("group_size"))
      check_group_size(values.required<int64_t>("group_size"), where, field + ".group_size");
  }
}

}  // namespace

GptqScheme GptqScheme::from_config(const nlohmann::json& qc, const std::string& where) {
  GptqScheme s;
  if (!qc.is_object()) fail_input(where, "quantization_config must be an object");
  const ConfigKeys keys(qc, where, "quantization_config");
  s.bits = keys.required<int>("bits");
  s.group_size = keys.required<int64_t>("group_size");
  s.sym = keys.optional("sym", true);
  const std::string format = keys.optional<std::string>("checkpoint_format", "gptq");
  if (format == "gptq_v2") s.format = GptqCheckpointFormat::gptq_v2;
  else if (format != "gptq") fail_input(where, "unsupported GPTQ checkpoint_format \"" + format + "\"");
  s.dynamic = keys.optional("dynamic", nlohmann::json::object());
  check_gptq_bits(s.bits, where, "quantization_config.bits");
  check_group_size(s.group_size, where, "quantization_config.group_size");
  check_dynamic_rules(s.dynamic, where);
  return s;
}

std::pair<int, int64_t> GptqScheme::for_module(const std::string& module) const {
  int bits = this->bits;
  int64_t group = group_size;
  for (const auto& [key, rule] : dynamic.items()) {
    if (key.rfind("+:", 0) != 0) continue;
    if (!std::regex_search(module, compile_name_pattern(key.substr(2), "quantization_config.dynamic"))) continue;
    bits = rule.value("bits", bits);
    group = rule.value("group_size", group);
  }
  return {bits, group};
}

QuantizedLinear read_gptq_linear(const SafetensorsCheckpoint& checkpoint, const std::string& prefix,
                                  const GptqScheme& scheme, int64_t out_features, int64_t in_features) {
  const auto [bits, group] = scheme.for_module(prefix);
  GptqTensors t{checkpoint.tensor(prefix + ".qweight"), checkpoint.tensor(prefix + ".qzeros"),
                checkpoint.tensor(prefix + ".scales"), checkpoint.tensor(prefix + ".g_idx")};
  check_gptq_tensors(t, bits, prefix);
  QuantizedLinear q = unpack_gptq(t, bits, group, scheme.sym, scheme.format);
  if (q.out_features() < out_features || q.in_features() < in_features)
    fail_input(prefix + ".qweight", "unpacks to " + c10::str(q.codes.sizes()) + ", smaller than the configured [" +
                                        std::to_string(out_features) + ", " + std::to_string(in_features) + "]");
  return crop_quantized_linear(q, out_features, in_features);
}

}  // namespace mp
