// The training loop of `modelpress distill-train`: AdamW with warmup + cosine decay, gradient
// accumulation, clipping by global norm, f32 or bf16 compute, periodic held-out evaluation,
// metrics as JSON lines, checkpoints that resume exactly, and data parallelism across processes.
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "distill/adamw.h"
#include "distill/data_parallel.h"
#include "distill/student_model.h"
#include "distill/teacher_signal.h"
#include "distill/token_dataset.h"

namespace mp {

struct TrainOptions {
  std::string out;          // the HF directory written at the end; checkpoint/ and metrics.jsonl inside
  int64_t steps = 100;      // optimizer steps
  int64_t batch = 8;        // windows per micro-batch per process
  int64_t seq = 256;
  int64_t grad_accum = 1;   // micro-batches per step per process
  double lr = 1e-3, min_lr = 1e-4;
  int64_t warmup = 10;
  double clip = 1.0;        // max global gradient norm; <= 0: off
  AdamWOptions adamw;
  uint64_t seed = 0;
  at::ScalarType dtype = at::kFloat;
  int64_t eval_every = 0, eval_windows = 16;  // 0: evaluate only at the end (when eval data exists)
  int64_t checkpoint_every = 0;               // 0: no checkpoints
  bool resume = false;
  std::string quantize;     // the --quantize target the student is rounded to, and a frozen grid's file (a resume must match)
  int64_t stop_after = 0;  // testing aid: return right after this step, as if killed (0: off)
  bool quiet = false;
};

struct TrainSummary {
  int64_t steps_done = 0, resumed_from = 0, tokens_seen = 0;
  double final_loss = 0, tokens_per_s = 0;
  double eval_loss = -1;  // mean held-out cross-entropy at the end (-1: no eval data)
  bool stopped_early = false;
};

// Trains `student` in place on `data` (windows of options.seq, see training_windows.h), the loss
// given by `signal`. Only the writer process (rank 0) writes files. `eval_data` may be null.
TrainSummary train(StudentModel& student, TeacherSignal& signal, const TokenDataset& data,
                   const TokenDataset* eval_data, DataParallel& world, const TrainOptions& options);

// Mean cross-entropy (nats/token) of the student on the first `windows` windows of `data`.
double held_out_loss(StudentModel& student, const TokenDataset& data, int64_t seq, int64_t windows,
                     at::ScalarType dtype);

}  // namespace mp
