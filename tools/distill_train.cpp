// modelpress distill-train: train a student from a teacher (online or cached top-k) or from the
// data alone; resumable, data-parallel across processes (torchrun or Slurm variables).
#include <iostream>
#include <nlohmann/json.hpp>

#include "distill/distill_train.h"
#include "lib/base/error.h"
#include "lib/pipeline/recipe_paths.h"
#include "tools/common.h"
#include "tools/tools.h"

namespace mp::tools {

namespace {

Divergence parse_divergence(const std::string& s) {
  if (s == "fkl" || s == "forward_kl") return Divergence::forward_kl;
  if (s == "rkl" || s == "reverse_kl") return Divergence::reverse_kl;
  if (s == "jsd") return Divergence::jsd;
  fail_input("--divergence", "use fkl, rkl or jsd, not '" + s + "'");
}

void print_report(const DistillTrainRequest& r, const DistillTrainReport& report, bool json) {
  if (report.rank != 0) return;
  const TrainSummary& t = report.train;
  nlohmann::ordered_json j = {{"student_parameters", report.student_parameters},
                              {"signal", report.signal},
                              {"world_size", report.world_size},
                              {"backend", report.backend},
                              {"steps_done", t.steps_done},
                              {"resumed_from_step", t.resumed_from},
                              {"stopped_early", t.stopped_early},
                              {"tokens_seen", t.tokens_seen},
                              {"tokens_per_s", t.tokens_per_s},
                              {"final_train_loss", t.final_loss}};
  if (t.eval_loss >= 0) j["eval_loss"] = t.eval_loss;
  if (!report.quantized_grids.empty()) {
    j["quantize"] = r.quantize;
    j["quantized_grids"] = report.quantized_grids;
    j["grid"] = report.grid;
    j["frozen_tensors"] = report.frozen_tensors;
    nlohmann::json fallbacks = nlohmann::json::array();
    for (const QuantizeFallback& f : report.quantize_fallbacks)
      fallbacks.push_back({{"tensor", f.tensor}, {"wanted", f.wanted}, {"used", f.used}, {"why", f.why}});
    j["quantize_fallbacks"] = fallbacks;
    if (!report.quantized_out.empty()) j["quantized_out"] = report.quantized_out;
  }
  if (report.cache_tokens > 0) {
    j["cache_tokens"] = report.cache_tokens;
    j["cache_bytes_per_token"] = report.cache_bytes_per_token;
  }
  if (json) {
    std::cout << j.dump(2) << "\n";
    return;
  }
  if (report.cache_tokens > 0)
    std::cout << "teacher cache " << r.cache_teacher << ": " << report.cache_tokens << " tokens, "
              << report.cache_bytes_per_token << " bytes/token on disk\n";
  if (r.cache_only) return;
  std::cout << "student: " << report.student_parameters << " parameters, trained with " << report.signal << "\n"
            << "steps " << t.steps_done << (t.stopped_early ? " (stopped early)" : "") << ", " << t.tokens_seen
            << " tokens this run at " << static_cast<int64_t>(t.tokens_per_s) << " tokens/s over "
            << report.world_size << " process(es); last train loss " << t.final_loss << "\n";
  if (t.eval_loss >= 0) std::cout << "held-out loss " << t.eval_loss << " nats/token\n";
  if (!t.stopped_early) std::cout << "wrote " << r.train.out << "\n";
  if (!report.quantized_grids.empty()) {
    std::cout << "fake-quantized on " << r.quantize << ":";
    for (const auto& [grid, n] : report.quantized_grids) std::cout << " " << grid << " x" << n;
    std::cout << "\n";
    if (report.grid == "frozen" || report.grid == "hybrid")
      std::cout << "grid parameters " << (report.grid == "frozen" ? "frozen to " : "per block the better of ")
                << r.init_weights << "'s" << (report.grid == "frozen" ? "" : " and the search's") << " for "
                << report.frozen_tensors << " tensors (the others re-chosen every step)\n";
    if (r.types_from_init) std::cout << "per-tensor types from " << r.init_weights << "\n";
    for (const QuantizeFallback& f : report.quantize_fallbacks)
      std::cout << "  fallback " << f.tensor << ": wanted " << f.wanted << ", used " << f.used << " (" << f.why << ")\n";
  }
  if (!report.quantized_out.empty()) std::cout << "wrote " << report.quantized_out << "\n";
}

}  // namespace

void add_distill_train(CLI::App& app) {
  auto* cmd = app.add_subcommand("distill-train", "Train a student model by distillation from a teacher, or from scratch");
  auto r = std::make_shared<DistillTrainRequest>();
  auto divergence = std::make_shared<std::string>("fkl");
  auto json = std::make_shared<bool>(false);
  TrainOptions& t = r->train;
  cmd->add_option("--student", r->student, "HF directory of a student to continue training");
  cmd->add_option("--student-config", r->student_config, "config.json of a student to initialize randomly (--seed)");
  cmd->add_flag("--init-from-teacher", r->init_from_teacher, "student = the teacher's layers given by --keep-layers");
  cmd->add_option("--tokenizer", r->tokenizer, "directory with tokenizer.model for a --student-config student "
                                              "(default: beside the config, else the teacher's)");
  cmd->add_option("--keep-layers", r->keep_layers, "teacher layers the student keeps, e.g. 0,2,4")->delimiter(',');
  cmd->add_option("--teacher", r->teacher, "teacher HF directory (online distillation unless --cache-teacher)");
  cmd->add_option("--cache-teacher", r->cache_teacher, "teacher top-k cache (.h5): built resumably if absent, then trained from")
      ->type_name(kWrittenPathType);
  cmd->add_option("--cache-k", r->cache_k, "tokens per position in the cache")->capture_default_str();
  cmd->add_option("--cache-logprobs", r->cache_logprobs, "cache log-probabilities as f16 or f32")->capture_default_str();
  cmd->add_flag("--cache-only", r->cache_only, "build the teacher cache and stop");
  cmd->add_option("--quantize", r->quantize,
                  "train on this grid (gguf:TYPE as export --type, or gptq:wBITSgGROUP) with straight-through "
                  "gradients, then write OUT/model-TYPE.gguf or OUT/gptq-wBgG from the final masters");
  cmd->add_option("--init-weights", r->init_weights,
                  "with --quantize: start the masters at this model's (dequantized) weights, e.g. a GPTQ GGUF");
  cmd->add_option("--grid", r->grid,
                  "with --quantize: frozen (keep the block scales --init-weights, a GGUF, stores; re-level only the "
                  "codes), hybrid (per super-block the better of those and the search's own for the current weights) "
                  "or rechosen (the encoder's search every step); default frozen for a GGUF --init-weights");
  cmd->add_flag("--types-from-init", r->types_from_init,
                "with --quantize gguf:TYPE: every tensor takes the type the GGUF --init-weights stores it in (a "
                "size-targeted file's mix) instead of TYPE's rules; TYPE then only labels the file");
  cmd->add_option("--data", r->data, "training tokens: .h5 token dataset or text file")->required();
  cmd->add_option("--eval-data", r->eval_data, "held-out tokens (.h5 or text)");
  cmd->add_option("--out", t.out, "output HF directory (checkpoint/ and metrics.jsonl inside)")
      ->type_name(kWrittenPathType)
      ->required();
  cmd->add_option("--steps", t.steps, "optimizer steps")->capture_default_str();
  cmd->add_option("--batch", t.batch, "windows per micro-batch per process")->capture_default_str();
  cmd->add_option("--seq", t.seq, "tokens per window (must equal the teacher cache's)")->capture_default_str();
  cmd->add_option("--grad-accum", t.grad_accum, "micro-batches per step")->capture_default_str();
  cmd->add_option("--lr", t.lr, "peak learning rate")->capture_default_str();
  cmd->add_option("--min-lr", t.min_lr, "learning rate at the end of the cosine")->capture_default_str();
  cmd->add_option("--warmup", t.warmup, "linear warmup steps")->capture_default_str();
  cmd->add_option("--weight-decay", t.adamw.weight_decay, "AdamW decoupled weight decay")->capture_default_str();
  cmd->add_option("--clip", t.clip, "max global gradient norm (0: off)")->capture_default_str();
  cmd->add_option("--seed", t.seed, "data order and random init")->capture_default_str();
  cmd->add_option("--eval-every", t.eval_every, "held-out eval every N steps (0: only at the end)")->capture_default_str();
  cmd->add_option("--eval-windows", t.eval_windows, "held-out windows per eval")->capture_default_str();
  cmd->add_option("--checkpoint-every", t.checkpoint_every, "checkpoint every N steps (0: never)")->capture_default_str();
  cmd->add_flag("--resume", t.resume, "continue from OUT/checkpoint if it exists");
  cmd->add_option("--stop-after-step", t.stop_after, "exit after this step without writing the model, as if killed")
      ->group("");  // for resume tests
  cmd->add_option("--divergence", *divergence, "fkl, rkl or jsd")->capture_default_str();
  cmd->add_option("--beta", r->distill.beta, "JSD teacher weight")->capture_default_str();
  cmd->add_option("--temperature", r->distill.temperature, "distillation temperature")->capture_default_str();
  cmd->add_option("--alpha", r->distill.alpha, "weight of the KD term; 1-alpha on cross-entropy (0: CE only)")
      ->capture_default_str();
  cmd->add_option("--backend", r->backend, "collectives across processes: gloo (CPU), nccl (CUDA) or auto")
      ->capture_default_str();
  cmd->add_flag("--json", *json, "print the summary as JSON");
  add_runtime_options(cmd, r->runtime);
  cmd->callback([r, divergence, json] {
    r->distill.divergence = parse_divergence(*divergence);
    record_inputs({{"teacher", r->teacher}, {"student", r->student}, {"student_config", r->student_config},
                   {"init_weights", r->init_weights},
                   {"data", r->data}, {"eval_data", r->eval_data}},
                  r->train.seed);
    print_report(*r, run_distill_train(*r), *json);
  });
}

}  // namespace mp::tools
