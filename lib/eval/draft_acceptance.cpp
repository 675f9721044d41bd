#include "lib/eval/draft_acceptance.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <cstdio>
#include <functional>

#include "lib/base/error.h"
#include "lib/runtime/kept_layers.h"

namespace mp {

double expected_tokens_per_pass(double alpha, int64_t k) {
  if (alpha >= 1) return static_cast<double>(k + 1);
  return (1 - std::pow(alpha, static_cast<double>(k + 1))) / (1 - alpha);
}

double predicted_speedup(double alpha, int64_t k, double cost_ratio) {
  return expected_tokens_per_pass(alpha, k) / (static_cast<double>(k) * cost_ratio + 1);
}

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// CPU seconds of the whole process (every thread) spent in `run`. Unlike wall time, other work on a
// shared machine does not inflate it; with one thread and an idle machine the two are equal.
double cpu_seconds_of(const std::function<void()>& run) {
  const auto now = [] {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
  };
  const double t0 = now();
  run();
  return now() - t0;
}

at::Tensor slice_tokens(const std::vector<int32_t>& tokens, int64_t from, int64_t count) {
  return at::tensor(std::vector<int64_t>(tokens.begin() + from, tokens.begin() + from + count), at::kLong).unsqueeze(0);
}

// Per-step CPU costs with KV caches, as generation pays them: both models hold `context` tokens of the
// text, then decode one more (or, for the target, verify k+1) and are cut back, so every timed pass
// sees the same context. The two models alternate so that load on the machine hits both alike.
void time_decode_steps(LlamaModel& target, LlamaModel& draft, const std::vector<int32_t>& tokens, int64_t context,
                       const AcceptanceOptions& o, DraftAcceptance& r) {
  KeptLayers target_layers(target), draft_layers(draft);
  KVCache target_cache, draft_cache;
  target_layers.forward(slice_tokens(tokens, 0, context), 0, target_cache);
  draft_layers.forward(slice_tokens(tokens, 0, context), 0, draft_cache);
  const at::Tensor next = slice_tokens(tokens, context, 1);
  std::vector<double> target_steps, draft_steps;
  for (int64_t rep = 0; rep < o.timing_repeats; ++rep) {
    target_steps.push_back(cpu_seconds_of([&] { target_layers.forward(next, context, target_cache); }));
    draft_steps.push_back(cpu_seconds_of([&] { draft_layers.forward(next, context, draft_cache); }));
    truncate_cache(target_cache, context);
    truncate_cache(draft_cache, context);
  }
  r.target_step_seconds = median(target_steps);
  r.draft_step_seconds = median(draft_steps);
  r.cost_ratio = r.draft_step_seconds / r.target_step_seconds;
  for (int64_t k = 1; k <= o.max_draft_tokens; ++k) {
    const at::Tensor window = slice_tokens(tokens, context, k + 1);
    std::vector<double> passes;
    for (int64_t rep = 0; rep < o.timing_repeats; ++rep) {
      passes.push_back(cpu_seconds_of([&] { target_layers.forward(window, context, target_cache); }));
      truncate_cache(target_cache, context);
    }
    r.rows[k - 1].verify_cost = median(passes) / r.target_step_seconds;
  }
}

}  // namespace

DraftAcceptance measure_draft_acceptance(LlamaModel& target, LlamaModel& draft, const std::vector<int32_t>& text_tokens,
                                         const AcceptanceOptions& o) {
  const int64_t context = std::min(target.config().max_position_embeddings, draft.config().max_position_embeddings);
  const int64_t ctx = o.ctx > 0 ? o.ctx : context;
  if (ctx > context) fail_input("--ctx", std::to_string(ctx) + " is longer than the models' context (" + std::to_string(context) + ")");
  if (o.temperature <= 0) fail_input("--temp", "must be positive (greedy agreement is reported anyway)");
  std::vector<int32_t> tokens = text_tokens;
  if (o.max_tokens >= 0 && static_cast<int64_t>(tokens.size()) > o.max_tokens) tokens.resize(o.max_tokens);
  // Timing decodes after a half-context prefix, up to the longest verification window.
  if (ctx / 2 + o.max_draft_tokens + 1 > ctx)
    fail_input("--ctx", "must be at least " + std::to_string(2 * (o.max_draft_tokens + 1)));
  if (static_cast<int64_t>(tokens.size()) < ctx)
    fail_input("text", "has " + std::to_string(tokens.size()) + " tokens: at least one chunk of " +
                           std::to_string(ctx) + " is needed");

  DraftAcceptance r;
  r.temperature = o.temperature;
  double agree = 0, accept = 0;
  for (int64_t start = 0; start + ctx <= static_cast<int64_t>(tokens.size()); start += ctx) {
    at::Tensor chunk = slice_tokens(tokens, start, ctx);
    if (o.chunk_start_token >= 0) chunk[0][0] = o.chunk_start_token;
    const at::Tensor target_logits = target.forward(chunk)[0].to(at::kDouble);
    const at::Tensor draft_logits = draft.forward(chunk)[0].to(at::kDouble);
    agree += target_logits.argmax(-1).eq(draft_logits.argmax(-1)).sum().item<double>();
    const at::Tensor p = at::softmax(target_logits / o.temperature, -1), q = at::softmax(draft_logits / o.temperature, -1);
    accept += (1 - 0.5 * (p - q).abs().sum(-1)).sum().item<double>();
    r.positions += ctx;
  }
  r.greedy_agreement = agree / r.positions;
  r.sampled_acceptance = accept / r.positions;

  r.rows.resize(o.max_draft_tokens);
  time_decode_steps(target, draft, tokens, ctx / 2, o, r);
  for (int64_t k = 1; k <= o.max_draft_tokens; ++k) {
    SpeedupRow& row = r.rows[k - 1];
    row.k = k;
    row.greedy_tokens_per_pass = expected_tokens_per_pass(r.greedy_agreement, k);
    row.greedy_speedup = predicted_speedup(r.greedy_agreement, k, r.cost_ratio);
    row.sampled_tokens_per_pass = expected_tokens_per_pass(r.sampled_acceptance, k);
    row.sampled_speedup = predicted_speedup(r.sampled_acceptance, k, r.cost_ratio);
    row.greedy_speedup_measured_verify = row.greedy_tokens_per_pass / (k * r.cost_ratio + row.verify_cost);
  }
  return r;
}

nlohmann::ordered_json DraftAcceptance::to_json() const {
  nlohmann::ordered_json j;
  j["positions"] = positions;
  j["greedy_agreement"] = greedy_agreement;
  j["temperature"] = temperature;
  j["sampled_acceptance"] = sampled_acceptance;
  j["target_step_cpu_seconds"] = target_step_seconds;
  j["draft_step_cpu_seconds"] = draft_step_seconds;
  j["cost_ratio"] = cost_ratio;
  j["model"] = "iid acceptance (Leviathan et al. 2023)";
  j["rows"] = nlohmann::ordered_json::array();
  for (const SpeedupRow& row : rows)
    j["rows"].push_back({{"k", row.k},
                         {"greedy_tokens_per_pass", row.greedy_tokens_per_pass},
                         {"greedy_speedup", row.greedy_speedup},
                         {"sampled_tokens_per_pass", row.sampled_tokens_per_pass},
                         {"sampled_speedup", row.sampled_speedup},
                         {"verify_cost", row.verify_cost},
                         {"greedy_speedup_measured_verify", row.greedy_speedup_measured_verify}});
  return j;
}

std::string DraftAcceptance::to_text() const {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "positions %lld\ngreedy agreement %.4f\nsampled acceptance (1 - TV, T = %g) %.4f\n",
                static_cast<long long>(positions), greedy_agreement, temperature, sampled_acceptance);
  out += line;
  std::snprintf(line, sizeof line, "decode step (CPU time): target %.3f ms, draft %.3f ms, c = %.3f\n", target_step_seconds * 1e3,
                draft_step_seconds * 1e3, cost_ratio);
  out += line;
  out += "predicted with i.i.d. acceptance (Leviathan et al. 2023): E[tokens/pass] = (1-a^(k+1))/(1-a), speedup = E/(k*c+1)\n";
  out += "  k  E greedy  speedup greedy  E sampled  speedup sampled  verify pass (target steps)  greedy speedup, measured verify\n";
  for (const SpeedupRow& row : rows) {
    std::snprintf(line, sizeof line, "%3lld  %8.3f  %14.3f  %9.3f  %15.3f  %26.3f  %31.3f\n", static_cast<long long>(row.k),
                  row.greedy_tokens_per_pass, row.greedy_speedup, row.sampled_tokens_per_pass, row.sampled_speedup,
                  row.verify_cost, row.greedy_speedup_measured_verify);
    out += line;
  }
  return out;
}

}  // namespace mp
