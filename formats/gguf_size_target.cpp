#include "formats/gguf_size_target.h"

#include <algorithm>
#include <cmath>

#include "formats/gguf_export_layout.h"
#include "formats/gguf_file.h"
#include "formats/gguf_logit_losses.h"
#include "formats/gguf_type_losses.h"
#include "lib/base/error.h"
#include "lib/base/progress.h"
#include "lib/runtime/model_tokenizer.h"
#include "quant/calibration.h"

namespace mp {

namespace {

const GgmlType kCandidates[] = {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K,
                                GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_0};

uint64_t padded(uint64_t bytes) { return (bytes + kGgufDefaultAlignment - 1) / kGgufDefaultAlignment * kGgufDefaultAlignment; }

bool is_output_matrix(const PlannedTensor& t, bool tied) {
  return t.name.gguf == "output.weight" || (tied && t.name.gguf == "token_embd.weight");
}

// E[h_i²] of the output matrix's input h = γ ⊙ x̂, the final RMS-normed hidden state, when the
// importance matrix has no entry for it (llama-imatrix leaves it out unless --process-output): x̂
// has mean square 1 over its dimensions by construction, so γ_i² is E[h_i²] up to how unevenly
// x̂'s energy is spread, which the norm cannot tell.
std::vector<float> output_input_energy(const ModelSource& source, const GgufExportLayout& layout) {
  for (const PlannedTensor& t : layout.tensors)
    if (t.name.gguf == "output_norm.weight") {
      const at::Tensor g = (source.tensor(t.name.hf).to(at::kFloat) + t.name.gguf_offset).contiguous();
      std::vector<float> out(g.data_ptr<float>(), g.data_ptr<float>() + g.numel());
      for (float& v : out) v *= v;
      return out;
    }
  fail_runtime("the model has no output_norm");
}

// The proxy loss of every candidate of one tensor (see formats/gguf_type_losses.h). A token
// embedding's lookup adds each row's squared error to the residual stream of the tokens that use it;
// with no token frequencies at hand every row counts 1/rows (a uniform token distribution).
struct LossWeighting {
  const float* encode_importance = nullptr;  // what the exporter quantizes with
  std::vector<float> columns;                // E[x_i²] of the linear's input; empty: not a linear use
  bool lookup = false;                       // token_embd: also a lookup table
};

// The error relative to the signal: each use's weighted squared error over the same weighting of
// W itself (E‖(W − Ŵ)x‖² / E‖Wx‖² for a linear), so that tensors whose outputs live on different
// scales compete on their noise-to-signal ratio (docs/gguf.md, "Size-targeted mixes").
double candidate_loss(const at::Tensor& w, GgmlType type, const LossWeighting& weighting,
                      const std::vector<double>& energies) {
  const std::vector<double> errors = column_squared_errors(w, type, weighting.encode_importance);
  double loss = weighting.columns.empty() ? 0.0 : weighted_error(errors, weighting.columns) /
                                                      weighted_error(energies, weighting.columns);
  if (weighting.lookup) {
    double error = 0, energy = 0;
    for (double e : errors) error += e;
    for (double e : energies) energy += e;
    loss += error / energy;
  }
  return loss;
}

// The calibration windows of the KL loss, drawn as quantize draws its own.
std::shared_ptr<LogitLossMeter> logit_loss_meter(const ModelSource& source, const GgufSizeTarget& target) {
  if (target.calib.empty()) return nullptr;
  if (target.loss != "kl" && target.loss != "kl-scaled")
    fail_input("--target-loss", "unknown loss '" + target.loss + "' (kl, kl-scaled)");
  CalibrationOptions calibration;
  calibration.file = target.calib;
  calibration.tokenizer = target.tokenizer;
  calibration.samples = target.windows;
  calibration.seqlen = calibration_seqlen(target.seqlen, source.config().max_position_embeddings);
  calibration.seed = target.seed;
  return std::make_shared<LogitLossMeter>(source, sample_calibration(model_tokenizer(source, target.tokenizer), calibration));
}

// The KL at the logits of each candidate, replacing the proxy losses in `a`: measured for every
// candidate ("kl"), or for q4_K's (or its fallback) and the others scaled by that ratio ("kl-scaled").
void measure_kl(LogitLossMeter& meter, const std::string& loss, const PlannedTensor& t, const at::Tensor& w,
                const float* importance, GgmlType reference, AllocatableTensor& a) {
  auto kl_of = [&](GgmlType type) { return meter.kl({{t.name.hf, encode_decode(w, type, importance)}}); };
  if (loss == "kl") {
    for (TypeCandidate& c : a.candidates) c.loss = kl_of(c.type);
    return;
  }
  for (const TypeCandidate& c : a.candidates)
    if (c.type == reference) {
      const double ratio = c.loss > 0 ? kl_of(c.type) / c.loss : 0.0;
      for (TypeCandidate& other : a.candidates) other.loss *= ratio;
      return;
    }
  fail_runtime("measure_kl: no reference candidate for " + t.name.gguf);
}

std::string bytes_text(uint64_t n) { return std::to_string(n) + " bytes"; }

}  // namespace

uint64_t SizeTargetProblem::smallest() const {
  uint64_t total = fixed_bytes;
  for (const AllocatableTensor& a : tensors) {
    uint64_t least = a.candidates[0].bytes;
    for (const TypeCandidate& c : a.candidates) least = std::min(least, c.bytes);
    total += least;
  }
  return total;
}

SizeTargetProblem size_target_problem(const ModelSource& source, const GgufExportOptions& options) {
  const std::string option = options.target.bpw > 0 ? "--target-bpw" : "--target-size";
  if (options.imatrix.empty())
    fail_input(option, "needs an importance matrix (--imatrix): each candidate type's loss is weighted by it");
  if (ggml_type_info(options.type.base).block_size == 1)
    fail_input("--type", "with " + option + ", --type names the quantized mix the file is labelled as "
                         "(general.file_type), e.g. Q4_K_M; " + options.type.name + " is not one");
  const bool tied = source.config().tie_word_embeddings;
  const auto loaded = std::make_shared<const LoadedImatrix>(load_imatrix(options.imatrix));
  const LoadedImatrix& imatrix = *loaded;
  const GgufExportLayout layout = plan_gguf_export(source, options, imatrix);
  SizeTargetProblem problem;
  problem.parameters = layout.parameters;
  GgufExportLayout f32 = layout;
  for (PlannedTensor& t : f32.tensors) t.type.used = GgmlType::F32;
  problem.f32_bytes = f32.file_bytes();

  std::vector<const PlannedTensor*> planned;
  problem.fixed_bytes = layout.file_bytes();
  for (const PlannedTensor& t : layout.tensors)
    if (t.shape.size() == 2 && !layout.generated.count(t.name.gguf) &&
        !user_tensor_type(options.type, t.name.gguf, tied)) {
      planned.push_back(&t);
      problem.fixed_bytes -= padded(t.bytes());
    }
  std::vector<float> output_energy;
  const std::shared_ptr<LogitLossMeter> meter = logit_loss_meter(source, options.target);
  problem.loss_kind = meter ? options.target.loss : "proxy";
  if (meter) {
    std::vector<PlannedTensor> kept;
    for (const PlannedTensor* t : planned) kept.push_back(*t);
    problem.mix_kl = [&source, meter, loaded, kept, path = options.imatrix](const std::vector<GgmlType>& types) {
      std::map<std::string, at::Tensor> replaced;
      for (size_t i = 0; i < kept.size(); ++i)
        replaced[kept[i].name.hf] =
            encode_decode(source.tensor(kept[i].name.hf), types[i], importance_for(*loaded, path, kept[i]));
      return meter->kl(replaced);
    };
  }
  Progress progress("target", static_cast<int64_t>(planned.size()), "tensors");
  for (const PlannedTensor* t : planned) {
    LossWeighting weighting;
    weighting.encode_importance = importance_for(imatrix, options.imatrix, *t);
    weighting.lookup = t->name.gguf == "token_embd.weight";
    const auto entry = imatrix.importance.find(t->name.gguf);
    if (entry != imatrix.importance.end() && static_cast<int64_t>(entry->second.size()) == t->shape.back())
      weighting.columns = entry->second;
    else if (is_output_matrix(*t, tied)) {
      if (output_energy.empty()) output_energy = output_input_energy(source, layout);
      weighting.columns = output_energy;
    } else if (!weighting.lookup)
      fail_input(options.imatrix, "has no entry for '" + t->name.gguf + "', whose loss a size target needs");
    const at::Tensor w = source.tensor(t->name.hf);
    const std::vector<double> energies = column_energies(w);
    AllocatableTensor a{t->name.gguf, {}};
    GgmlType reference = GgmlType::Q4_K;
    for (GgmlType candidate : kCandidates) {
      GgufExportType probe = options.type;
      probe.overrides.allocated = {{t->name.gguf, candidate}};
      const GgmlType used = choose_tensor_type(probe, t->name, t->shape, source.config().num_layers,
                                               source.config().num_heads / source.config().num_kv_heads, tied, true)
                                .used;
      if (candidate == GgmlType::Q4_K) reference = used;
      bool seen = false;
      for (const TypeCandidate& c : a.candidates) seen |= c.type == used;
      if (seen) continue;
      const uint64_t bytes = ggml_row_bytes(used, t->shape.back()) * static_cast<uint64_t>(t->numel() / t->shape.back());
      a.candidates.push_back({used, padded(bytes), candidate_loss(w, used, weighting, energies)});
    }
    if (meter) measure_kl(*meter, options.target.loss, *t, w, weighting.encode_importance, reference, a);
    source.release(t->name.hf);
    problem.tensors.push_back(std::move(a));
    progress.advance(1, t->name.gguf);
  }
  progress.finish();
  return problem;
}

void allocate_size_target(const ModelSource& source, GgufExportOptions& options) {
  if (!options.target.set() || options.allocation) return;
  const std::string option = options.target.bpw > 0 ? "--target-bpw" : "--target-size";
  const SizeTargetProblem problem = size_target_problem(source, options);
  GgufTypeAllocation allocation;
  allocation.budget = options.target.bytes > 0
                          ? options.target.bytes
                          : static_cast<uint64_t>(std::floor(options.target.bpw * static_cast<double>(problem.parameters) / 8));
  allocation.smallest = problem.smallest();
  if (allocation.budget > problem.f32_bytes)
    fail_input(option, "the target of " + bytes_text(allocation.budget) + " is above the F32 file's " +
                           bytes_text(problem.f32_bytes));
  if (allocation.budget < allocation.smallest)
    fail_input(option, "the target of " + bytes_text(allocation.budget) + " is below the smallest file the candidate "
                           "types allow, " + bytes_text(allocation.smallest));
  const std::vector<size_t> choice = allocate_types(problem.tensors, problem.fixed_bytes, allocation.budget);
  std::vector<GgmlType> types;
  for (size_t i = 0; i < problem.tensors.size(); ++i) {
    const TypeCandidate& c = problem.tensors[i].candidates[choice[i]];
    allocation.tensors.push_back({problem.tensors[i].name, c.type, c.bytes, c.loss});
    options.type.overrides.allocated[problem.tensors[i].name] = c.type;
    types.push_back(c.type);
  }
  allocation.loss_kind = problem.loss_kind;
  // The knapsack assumes the tensors' losses add up; the whole mix's KL says how far they do.
  if (problem.mix_kl) allocation.mix_kl = problem.mix_kl(types);
  options.allocation = std::move(allocation);
}

}  // namespace mp
