#include "distill/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "distill/losses.h"
#include "distill/train_checkpoint.h"
#include "distill/training_windows.h"
#include "formats/config_keys.h"
#include "formats/json_file.h"
#include "lib/base/atomic_output.h"
#include "lib/base/error.h"
#include "lib/base/heap_reuse.h"
#include "lib/base/progress.h"
#include "lib/pipeline/provenance.h"

namespace fs = std::filesystem;

namespace mp {

namespace {

// What a resumed run must share with the checkpoint for the continuation to be exact.
nlohmann::json run_settings(const TrainOptions& o, const TokenDataset& data, int world_size,
                            const TeacherSignal& signal) {
  nlohmann::json settings = {{"steps", o.steps},
                             {"global_batch", o.batch * o.grad_accum * world_size},
                             {"seq", o.seq},
                             {"lr", o.lr},
                             {"min_lr", o.min_lr},
                             {"warmup", o.warmup},
                             {"clip", o.clip},
                             {"seed", o.seed},
                             {"dtype", std::string(at::toString(o.dtype))},
                             {"data_sha256", data.tokens_sha256()},
                             {"teacher", signal.describe()}};
  // Only quantization-aware runs name their target, so earlier checkpoints still resume.
  if (!o.quantize.empty()) settings["quantize"] = o.quantize;
  return settings;
}

// metrics.jsonl continues after a resume: lines past the checkpoint's step are dropped first, so
// the file reads as one uninterrupted run.
void truncate_metrics(const std::string& path, int64_t last_step) {
  std::ifstream in(path);
  std::string kept, line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const nlohmann::json record = parse_json_text(path, line.data(), line.data() + line.size());
    if (ConfigKeys(record, path).optional("step", int64_t{0}) <= last_step) kept += line + "\n";
  }
  in.close();
  write_file_atomically(path, kept);
}

std::vector<at::Tensor> gradients(StudentModel& student) {
  std::vector<at::Tensor> grads;
  for (auto& [name, p] : student.parameters()) {
    if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
    grads.push_back(p.grad());
  }
  return grads;
}

}  // namespace

double held_out_loss(StudentModel& student, const TokenDataset& data, int64_t seq, int64_t windows,
                     at::ScalarType dtype) {
  at::NoGradGuard no_grad;
  const TrainingWindows source(data, seq, /*seed=*/0);
  double total = 0;
  int64_t rows = 0;
  for (int64_t w = 0; w < std::min(windows, source.windows()); w += 4) {
    const TrainingBatch batch = source.in_order(w, std::min<int64_t>(4, windows - w));
    const at::Tensor logits = student.forward(batch.tokens, dtype).reshape({batch.labels.size(0), -1}).cpu();
    const int64_t n = batch.labels.size(0);
    total += cross_entropy_loss(logits, batch.labels, -100, 256).item<double>() * static_cast<double>(n);
    rows += n;
  }
  return total / static_cast<double>(rows);
}

TrainSummary train(StudentModel& student, TeacherSignal& signal, const TokenDataset& data,
                   const TokenDataset* eval_data, DataParallel& world, const TrainOptions& o) {
  if (o.batch < 1 || o.grad_accum < 1 || o.steps < 0) fail_input("--batch/--grad-accum/--steps", "must be positive");
  // Every step allocates and frees the same activations, gradients and optimizer temporaries.
  keep_freed_memory_for_reuse();
  TrainingWindows windows(data, o.seq, o.seed);
  // Held-out data too short for one window is refused now, not at the first evaluation mid-run.
  if (eval_data) TrainingWindows(*eval_data, o.seq, /*seed=*/0);
  AdamW optimizer(student.parameters(), o.adamw);
  const nlohmann::json settings = run_settings(o, data, world.size(), signal);
  const std::string checkpoint_dir = o.out + "/checkpoint", metrics_path = o.out + "/metrics.jsonl";
  TrainSummary summary;
  TrainProgress at_step;
  // A run killed while replacing its checkpoint may have left the previous one aside: locking the
  // checkpoint puts it back before it is looked for.
  if (o.resume && world.is_writer() && fs::is_directory(o.out)) {
    const OutputLock tidy_up(checkpoint_dir);
  }
  if (o.resume) world.barrier();
  if (o.resume && fs::exists(checkpoint_dir + "/state.json")) {
    at_step = load_checkpoint(checkpoint_dir, student, optimizer, settings);
    summary.resumed_from = at_step.step;
  } else {
    // Every rank built the same student; make sure of it rather than trust it.
    std::vector<at::Tensor> values;
    for (const auto& p : student.parameters()) values.push_back(p.second.detach());
    world.broadcast_from_writer(values);
  }
  if (world.is_writer()) {
    fs::create_directories(o.out);
    if (summary.resumed_from > 0) truncate_metrics(metrics_path, at_step.step);
    else write_file_atomically(metrics_path, "");
  }
  std::ofstream metrics;
  if (world.is_writer()) metrics.open(metrics_path, std::ios::app);

  const int64_t tokens_per_step = o.batch * o.grad_accum * world.size() * o.seq;
  const double scale = 1.0 / static_cast<double>(o.grad_accum * world.size());
  Progress progress("train", o.steps - at_step.step, "steps");
  const auto run_start = std::chrono::steady_clock::now();
  double last_loss = 0;
  for (int64_t step = at_step.step; step < o.steps; ++step) {
    const auto step_start = std::chrono::steady_clock::now();
    const double lr = warmup_cosine_lr(step, o.warmup, o.steps, o.lr, o.min_lr);
    // On the student's device, so it joins the gradients in one all-reduce (NCCL reduces CUDA tensors).
    at::Tensor loss_sum = at::zeros({1}, at::TensorOptions(at::kDouble).device(student.device()));
    for (int64_t m = 0; m < o.grad_accum; ++m) {
      // Rank r's micro-batch m: a disjoint slice of this step's samples, the same slices whatever
      // the split between processes and accumulation.
      const int64_t first = at_step.samples + (m * world.size() + world.rank()) * o.batch;
      const TrainingBatch batch = windows.batch(first, o.batch);
      const at::Tensor logits = student.forward(batch.tokens, o.dtype);
      const at::Tensor flat = logits.reshape({batch.labels.size(0), -1});
      // The teacher signals work on CPU tensors (labels, cached top-k, the teacher's own runtime).
      const LossAndGradient lg = signal.loss_and_gradient(batch, flat.detach().cpu());
      flat.backward(lg.gradient.to(flat.device()) * scale);
      loss_sum += lg.loss.to(loss_sum.options()) * scale;
    }
    std::vector<at::Tensor> reduced = gradients(student);
    reduced.push_back(loss_sum);
    world.all_reduce_sum(reduced);
    const double grad_norm = clip_grad_norm(student.parameters(), o.clip);
    optimizer.step(lr);
    optimizer.zero_grad();
    at_step.step = step + 1;
    at_step.samples += o.batch * o.grad_accum * world.size();
    last_loss = loss_sum.item<double>();
    summary.tokens_seen += tokens_per_step;

    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - step_start).count();
    nlohmann::ordered_json line = {{"step", at_step.step}, {"loss", last_loss},     {"lr", lr},
                                   {"grad_norm", grad_norm}, {"tokens", at_step.samples * o.seq},
                                   {"tokens_per_s", tokens_per_step / seconds}};
    if (world.is_writer() && eval_data && o.eval_every > 0 && at_step.step % o.eval_every == 0)
      line["eval_loss"] = held_out_loss(student, *eval_data, o.seq, o.eval_windows, o.dtype);
    if (world.is_writer()) metrics << line.dump() << "\n" << std::flush;
    char status[96];
    std::snprintf(status, sizeof status, "loss %.4f  %.0f tok/s", last_loss, tokens_per_step / seconds);
    progress.advance(1, status);
    if (world.is_writer() && o.checkpoint_every > 0 && at_step.step % o.checkpoint_every == 0)
      save_checkpoint(checkpoint_dir, student, optimizer, at_step, settings);
    if (o.stop_after > 0 && at_step.step == o.stop_after && at_step.step < o.steps) {
      summary.stopped_early = true;
      break;
    }
  }
  progress.finish();
  summary.steps_done = at_step.step;
  summary.final_loss = last_loss;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
  summary.tokens_per_s = elapsed > 0 ? summary.tokens_seen / elapsed : 0;
  if (summary.stopped_early) return summary;
  if (world.is_writer()) {
    if (eval_data) summary.eval_loss = held_out_loss(student, *eval_data, o.seq, o.eval_windows, o.dtype);
    student.save(o.out);
    write_directory_manifest(o.out);
  }
  world.barrier();
  return summary;
}

}  // namespace mp
