// What the student learns from, per batch: the data alone (cross-entropy), a teacher run online,
// or the teacher's cached top-k (distill/teacher_cache.h). Each gives the loss and its gradient
// with respect to the student's logits; the trainer backpropagates the rest.
#pragma once
#include <memory>
#include <string>

#include "distill/losses.h"
#include "distill/teacher_cache.h"
#include "distill/training_windows.h"
#include "lib/runtime/llama_model.h"

namespace mp {

class TeacherSignal {
 public:
  virtual ~TeacherSignal() = default;
  // student_logits: [B * seq, V] f32, rows in the batch's order.
  virtual LossAndGradient loss_and_gradient(const TrainingBatch& batch, const at::Tensor& student_logits) = 0;
  virtual std::string describe() const = 0;
};

// Cross-entropy on the labels only: training from scratch, or the no-distillation baseline.
std::unique_ptr<TeacherSignal> cross_entropy_signal(DistillOptions options);
// A teacher run on each batch (no gradients), its full distribution compared with the student's.
std::unique_ptr<TeacherSignal> online_teacher_signal(std::shared_ptr<LlamaModel> teacher, DistillOptions options);
// The cached top-k; the cache's window length must equal the training seq.
std::unique_ptr<TeacherSignal> cached_teacher_signal(const std::string& cache_path, int64_t seq,
                                                     DistillOptions options);

// Identifies a model's weights for cache provenance: the SHA-256 of its safetensors files' hashes.
std::string model_weights_sha256(const std::string& model_dir);

}  // namespace mp
