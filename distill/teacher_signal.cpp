#include "distill/teacher_signal.h"

#include <algorithm>
#include <filesystem>

#include "lib/base/error.h"
#include "lib/base/sha256.h"

namespace fs = std::filesystem;

namespace mp {

namespace {

class CrossEntropy : public TeacherSignal {
 public:
  explicit CrossEntropy(DistillOptions o) : options_(o) {}
  LossAndGradient loss_and_gradient(const TrainingBatch& batch, const at::Tensor& student_logits) override {
    at::Tensor leaf = student_logits.detach().requires_grad_(true);
    at::Tensor loss = cross_entropy_loss(leaf, batch.labels, options_.ignore_index, options_.chunk_rows);
    loss.backward();
    return {loss.detach(), leaf.grad()};
  }
  std::string describe() const override { return "cross-entropy on the data (no teacher)"; }

 private:
  DistillOptions options_;
};

class OnlineTeacher : public TeacherSignal {
 public:
  OnlineTeacher(std::shared_ptr<LlamaModel> teacher, DistillOptions o) : teacher_(std::move(teacher)), options_(o) {}
  LossAndGradient loss_and_gradient(const TrainingBatch& batch, const at::Tensor& student_logits) override {
    at::Tensor teacher_logits;
    {
      at::NoGradGuard no_grad;
      teacher_logits = teacher_->forward(batch.tokens).reshape({student_logits.size(0), -1});
    }
    return distillation_loss_and_gradient(student_logits, teacher_logits, batch.labels, options_);
  }
  std::string describe() const override { return "online teacher " + teacher_->source().path(); }

 private:
  std::shared_ptr<LlamaModel> teacher_;
  DistillOptions options_;
};

class CachedTeacher : public TeacherSignal {
 public:
  CachedTeacher(const std::string& path, int64_t seq, DistillOptions o) : reader_(path), path_(path), options_(o) {
    if (reader_.identity().context != seq)
      fail_input(path, "teacher cache was computed on windows of " + std::to_string(reader_.identity().context) +
                           " tokens; train with --seq " + std::to_string(reader_.identity().context));
  }
  LossAndGradient loss_and_gradient(const TrainingBatch& batch, const at::Tensor& student_logits) override {
    const int64_t seq = batch.tokens.size(1);
    std::vector<at::Tensor> indices, logprobs, tails;
    for (int64_t start : batch.window_starts) {
      const TeacherTopK rows = reader_.read(start, seq);
      indices.push_back(rows.indices);
      logprobs.push_back(rows.logprobs);
      tails.push_back(rows.tail_logmass);
    }
    const TeacherTopK teacher{at::cat(indices), at::cat(logprobs), at::cat(tails)};
    return distillation_loss_and_gradient(student_logits, teacher, batch.labels, options_);
  }
  std::string describe() const override {
    return "cached teacher " + path_ + " (top-" + std::to_string(reader_.identity().k) + ")";
  }

 private:
  TeacherCacheReader reader_;
  std::string path_;
  DistillOptions options_;
};

}  // namespace

std::unique_ptr<TeacherSignal> cross_entropy_signal(DistillOptions options) {
  return std::make_unique<CrossEntropy>(options);
}

std::unique_ptr<TeacherSignal> online_teacher_signal(std::shared_ptr<LlamaModel> teacher, DistillOptions options) {
  return std::make_unique<OnlineTeacher>(std::move(teacher), options);
}

std::unique_ptr<TeacherSignal> cached_teacher_signal(const std::string& cache_path, int64_t seq,
                                                     DistillOptions options) {
  return std::make_unique<CachedTeacher>(cache_path, seq, options);
}

std::string model_weights_sha256(const std::string& model_dir) {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(model_dir))
    if (entry.path().extension() == ".safetensors") files.push_back(entry.path().string());
  if (files.empty()) fail_input(model_dir, "no .safetensors files");
  std::sort(files.begin(), files.end());
  std::string hashes;
  for (const auto& f : files) hashes += sha256_file(f);
  return sha256_hex(hashes);
}

}  // namespace mp
