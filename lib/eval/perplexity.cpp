#include "lib/eval/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "lib/base/error.h"
#include "lib/base/huge_page_tensor.h"
#include "lib/base/progress.h"
#include "lib/runtime/compute_type.h"

namespace mp {

namespace {

// Mean and its standard error over a stream of values.
struct RunningMean {
  double sum = 0, sum_sq = 0;
  int64_t n = 0;
  void add(double x) { sum += x; sum_sq += x * x; ++n; }
  double mean() const { return n ? sum / n : 0; }
  double error() const {
    if (n < 2) return 0;
    const double var = sum_sq / n - mean() * mean();
    return var > 0 ? std::sqrt(var / (n - 1)) : 0;
  }
};

double percentile(std::vector<float>& sorted, double q) {
  if (sorted.empty()) return 0;
  const size_t i = std::min(sorted.size() - 1, static_cast<size_t>(q * (sorted.size() - 1) + 0.5));
  return sorted[i];
}

struct Accumulator {
  RunningMean nll, ref_nll, kld, same_top, delta_p, ln_ratio;
  double cross = 0;  // Σ nll·ref_nll for the covariance of the two perplexities
  std::vector<float> klds;
};

// Scores one batch of chunks. log_probs*: [B, n, V] over the scored positions; targets: [B, n].
void score(Accumulator& acc, const at::Tensor& log_probs, const at::Tensor& targets,
           const at::Tensor& ref_log_probs) {
  at::Tensor nll = -log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1).to(at::kDouble).flatten().cpu();
  auto nll_a = nll.accessor<double, 1>();
  if (!ref_log_probs.defined()) {
    for (int64_t i = 0; i < nll.size(0); ++i) acc.nll.add(nll_a[i]);
    return;
  }
  at::Tensor ref_nll = -ref_log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1).to(at::kDouble).flatten().cpu();
  at::Tensor ref_p = ref_log_probs.exp();
  at::Tensor kld = (ref_p * (ref_log_probs - log_probs)).sum(-1).to(at::kDouble).flatten().cpu();
  at::Tensor same = (log_probs.argmax(-1) == ref_log_probs.argmax(-1)).flatten().cpu();
  auto ref_a = ref_nll.accessor<double, 1>();
  auto kld_a = kld.accessor<double, 1>();
  auto same_a = same.accessor<bool, 1>();
  for (int64_t i = 0; i < nll.size(0); ++i) {
    acc.nll.add(nll_a[i]);
    acc.ref_nll.add(ref_a[i]);
    acc.cross += nll_a[i] * ref_a[i];
    acc.ln_ratio.add(nll_a[i] - ref_a[i]);
    acc.kld.add(kld_a[i]);
    acc.klds.push_back(static_cast<float>(kld_a[i]));
    acc.same_top.add(same_a[i] ? 1.0 : 0.0);
    acc.delta_p.add(std::exp(-nll_a[i]) - std::exp(-ref_a[i]));
  }
}

ComparisonStats summarize_comparison(Accumulator& acc) {
  ComparisonStats s;
  const double n = static_cast<double>(acc.nll.n);
  const double ppl = std::exp(acc.nll.mean()), ref_ppl = std::exp(acc.ref_nll.mean());
  s.reference_ppl = ref_ppl;
  s.reference_ppl_error = ref_ppl * acc.ref_nll.error();
  s.ppl_delta = ppl - ref_ppl;
  // Delta method on the two correlated means: Var(a-b) = Var(a) + Var(b) - 2 Cov(a, b).
  const double cov_nll = (acc.cross / n - acc.nll.mean() * acc.ref_nll.mean()) / std::max(1.0, n - 1);
  const double var_delta = std::pow(ppl * acc.nll.error(), 2) + std::pow(ref_ppl * acc.ref_nll.error(), 2) -
                           2 * ppl * ref_ppl * cov_nll;
  s.ppl_delta_error = var_delta > 0 ? std::sqrt(var_delta) : 0;
  s.ln_ppl_ratio = acc.ln_ratio.mean();
  s.ln_ppl_ratio_error = acc.ln_ratio.error();
  s.kld_mean = acc.kld.mean();
  s.kld_mean_error = acc.kld.error();
  std::sort(acc.klds.begin(), acc.klds.end());
  s.kld_max = acc.klds.empty() ? 0 : acc.klds.back();
  s.kld_min = acc.klds.empty() ? 0 : acc.klds.front();
  s.kld_p999 = percentile(acc.klds, 0.999);
  s.kld_p99 = percentile(acc.klds, 0.99);
  s.kld_p90 = percentile(acc.klds, 0.90);
  s.kld_median = percentile(acc.klds, 0.5);
  s.kld_p10 = percentile(acc.klds, 0.10);
  s.same_top1_percent = 100 * acc.same_top.mean();
  s.same_top1_error = 100 * acc.same_top.error();
  s.delta_p_mean = acc.delta_p.mean();
  s.delta_p_rms = std::sqrt(acc.delta_p.sum_sq / std::max<int64_t>(1, acc.delta_p.n));
  return s;
}

// Forward pass over chunks, keeping only the scored half of the positions.
at::Tensor scored_log_probs(LlamaModel& model, const at::Tensor& batch, int64_t first) {
  at::Tensor h = model.embed(batch);
  for (int64_t i = 0; i < model.config().num_layers; ++i) h = model.run_layer(i, h, 0);
  const int64_t scored = batch.size(1) - 1 - first;
  return at::log_softmax(model.logits(h.narrow(1, first, scored)), -1);
}

}  // namespace

int64_t perplexity_chunk_count(int64_t tokens, const PerplexityOptions& options, const ModelConfig& config) {
  const int64_t ctx = options.ctx;
  if (ctx < 4) fail_input("--ctx", "context must be at least 4 tokens");
  if (ctx > config.max_position_embeddings)
    fail_input("--ctx", std::to_string(ctx) + " exceeds the model's max_position_embeddings (" +
                            std::to_string(config.max_position_embeddings) + ")");
  const int64_t chunks = tokens / ctx;
  if (chunks == 0)
    fail_input("text", "has " + std::to_string(tokens) + " tokens, fewer than one chunk of " + std::to_string(ctx));
  return options.max_chunks > 0 ? std::min(chunks, options.max_chunks) : chunks;
}

PerplexityReport evaluate_perplexity(LlamaModel& model, const std::vector<int32_t>& tokens,
                                     const PerplexityOptions& options, LlamaModel* reference,
                                     const std::function<void(int64_t)>& on_chunk) {
  const int64_t ctx = options.ctx;
  const int64_t chunks = perplexity_chunk_count(static_cast<int64_t>(tokens.size()), options, model.config());
  // Every batch allocates and frees its logits (1 GiB at 4 × 512 tokens of a 128K vocabulary in
  // f32), their log-softmax and the layers' activations: fresh mappings that would fault every 4 KiB.
  map_large_tensors_on_huge_pages();

  PerplexityReport report;
  report.ctx = ctx;
  report.compute_type = compute_type_name(model.options().dtype);
  report.chunks = chunks;
  report.tokens_in_text = static_cast<int64_t>(tokens.size());
  const int64_t first = ctx / 2;
  const int32_t chunk_start = options.chunk_start_token.value_or(static_cast<int32_t>(model.config().bos_token_id));
  Accumulator acc;
  auto start = std::chrono::steady_clock::now();
  double model_seconds = 0;  // the evaluated model's own passes, for its throughput
  at::Tensor all = at::from_blob(const_cast<int32_t*>(tokens.data()), {static_cast<int64_t>(tokens.size())}, at::kInt);

  for (int64_t c0 = 0; c0 < chunks; c0 += options.chunks_per_batch) {
    const int64_t b = std::min(options.chunks_per_batch, chunks - c0);
    at::Tensor batch = all.narrow(0, c0 * ctx, b * ctx).view({b, ctx}).to(at::kLong).clone();
    at::Tensor targets = batch.narrow(1, first + 1, ctx - 1 - first).clone();
    if (chunk_start >= 0) batch.select(1, 0).fill_(chunk_start);  // every chunk is read as if it began a document
    const auto model_start = std::chrono::steady_clock::now();
    at::Tensor lp = scored_log_probs(model, batch, first);
    model_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - model_start).count();
    at::Tensor ref_lp = reference ? scored_log_probs(*reference, batch, first) : at::Tensor();
    targets = targets.to(lp.device());
    for (int64_t c = 0; c < b; ++c) {
      score(acc, lp[c], targets[c], reference ? ref_lp[c] : at::Tensor());
      report.running_ppl.push_back(std::exp(acc.nll.mean()));
    }
    if (on_chunk) on_chunk(c0 + b);
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.tokens_per_s = model_seconds > 0 ? chunks * ctx / model_seconds : 0;
  report.tokens_scored = acc.nll.n;
  report.ppl = std::exp(acc.nll.mean());
  report.ppl_error = report.ppl * acc.nll.error();
  if (reference) report.comparison = summarize_comparison(acc);
  return report;
}

nlohmann::ordered_json PerplexityReport::to_json() const {
  nlohmann::ordered_json j;
  j["ctx"] = ctx;
  j["chunks"] = chunks;
  j["tokens_in_text"] = tokens_in_text;
  j["tokens_scored"] = tokens_scored;
  j["ppl"] = ppl;
  j["ppl_error"] = ppl_error;
  j["running_ppl"] = running_ppl;
  j["compute_type"] = compute_type;
  if (comparison) {
    const auto& s = *comparison;
    j["reference"] = {
        {"ppl", s.reference_ppl}, {"ppl_error", s.reference_ppl_error},
        {"ppl_delta", s.ppl_delta}, {"ppl_delta_error", s.ppl_delta_error},
        {"ln_ppl_ratio", s.ln_ppl_ratio}, {"ln_ppl_ratio_error", s.ln_ppl_ratio_error},
        {"kld_mean", s.kld_mean}, {"kld_mean_error", s.kld_mean_error}, {"kld_max", s.kld_max},
        {"kld_p99_9", s.kld_p999}, {"kld_p99", s.kld_p99}, {"kld_p90", s.kld_p90},
        {"kld_median", s.kld_median}, {"kld_p10", s.kld_p10}, {"kld_min", s.kld_min},
        {"same_top1_percent", s.same_top1_percent}, {"same_top1_error", s.same_top1_error},
        {"delta_p_mean", s.delta_p_mean}, {"delta_p_rms", s.delta_p_rms}};
  }
  j["seconds"] = seconds;
  j["tokens_per_s"] = tokens_per_s;
  return j;
}

std::string PerplexityReport::to_text(bool print_chunks) const {
  std::ostringstream out;
  char line[256];
  std::snprintf(line, sizeof line, "perplexity: %lld tokens, %lld chunks of %lld, %lld tokens scored\n",
                static_cast<long long>(tokens_in_text), static_cast<long long>(chunks),
                static_cast<long long>(ctx), static_cast<long long>(tokens_scored));
  out << line;
  if (print_chunks) {
    for (size_t i = 0; i < running_ppl.size(); ++i) {
      std::snprintf(line, sizeof line, "[%zu]%.4f,", i + 1, running_ppl[i]);
      out << line;
    }
    out << "\n";
  }
  std::snprintf(line, sizeof line, "Final estimate: PPL = %.4f +/- %.5f\n", ppl, ppl_error);
  out << line;
  if (comparison) {
    const auto& s = *comparison;
    auto row = [&](const char* name, double v, double err = -1) {
      if (err >= 0) std::snprintf(line, sizeof line, "%-28s: %10.6f ± %.6f\n", name, v, err);
      else std::snprintf(line, sizeof line, "%-28s: %10.6f\n", name, v);
      out << line;
    };
    row("Mean PPL(base)", s.reference_ppl, s.reference_ppl_error);
    row("Mean PPL(Q)-PPL(base)", s.ppl_delta, s.ppl_delta_error);
    row("Mean ln(PPL(Q)/PPL(base))", s.ln_ppl_ratio, s.ln_ppl_ratio_error);
    row("Mean KLD", s.kld_mean, s.kld_mean_error);
    row("Maximum KLD", s.kld_max);
    row("99.9% KLD", s.kld_p999);
    row("99.0% KLD", s.kld_p99);
    row("90.0% KLD", s.kld_p90);
    row("Median KLD", s.kld_median);
    row("10.0% KLD", s.kld_p10);
    row("Minimum KLD", s.kld_min);
    row("Mean Δp", s.delta_p_mean);
    row("RMS Δp", s.delta_p_rms);
    row("Same top p (%)", s.same_top1_percent, s.same_top1_error);
  }
  std::snprintf(line, sizeof line, "throughput: %.1f tokens/s (%.2f s), %s compute\n", tokens_per_s, seconds,
                compute_type.c_str());
  out << line;
  return out.str();
}

PerplexityReport evaluate_perplexity_with_progress(const std::string& label, LlamaModel& model,
                                                   const std::vector<int32_t>& tokens,
                                                   const PerplexityOptions& options, LlamaModel* reference) {
  Progress progress(label, perplexity_chunk_count(static_cast<int64_t>(tokens.size()), options, model.config()),
                    "chunks");
  int64_t reported = 0;
  PerplexityReport report = evaluate_perplexity(model, tokens, options, reference, [&](int64_t done) {
    progress.advance(done - reported);
    reported = done;
  });
  progress.finish();
  return report;
}

}  // namespace mp
