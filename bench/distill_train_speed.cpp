// Training throughput (tokens/s, forward + backward + AdamW step) of distill-train's student, f32
// and bf16 compute: the stories260K student (teacher layers 0,2,4) and a synthetic ~100M-parameter
// Llama (hidden 768, 12 layers, 12 heads, vocab 32000, tied embeddings: 109M). Then the offline
// teacher pass: teacher-cache throughput with stories260K as the teacher.
//   distill_train_speed [--threads N] [--steps S] [--big-steps S] [--skip-big]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "distill/adamw.h"
#include "distill/cache_teacher.h"
#include "distill/losses.h"
#include "distill/student_model.h"
#include "distill/tokenize_corpus.h"
#include "lib/base/heap_reuse.h"
#include "lib/base/version.h"
#include "lib/runtime/llama_model.h"
#include "lib/runtime/runtime.h"
#include "lib/runtime/thread_waits.h"

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Phases {
  double forward = 0, backward = 0, optimizer = 0;
  double total() const { return forward + backward + optimizer; }
};

// `steps` timed training steps (after one untimed warm-up step) on random tokens.
Phases time_training(mp::StudentModel& student, at::ScalarType dtype, int64_t batch, int64_t seq, int steps) {
  mp::AdamW optimizer(student.parameters(), {});
  const int64_t vocab = student.config().vocab_size;
  Phases p;
  for (int s = 0; s <= steps; ++s) {
    const at::Tensor tokens = at::randint(vocab, {batch, seq}, at::kLong);
    const at::Tensor labels = at::randint(vocab, {batch * seq}, at::kLong);
    auto t0 = Clock::now();
    const at::Tensor logits = student.forward(tokens, dtype).reshape({batch * seq, vocab});
    const double forward = seconds_since(t0);
    t0 = Clock::now();
    at::Tensor leaf = logits.detach().requires_grad_(true);
    mp::cross_entropy_loss(leaf, labels, -100, 256).backward();
    logits.backward(leaf.grad());
    const double backward = seconds_since(t0);
    t0 = Clock::now();
    mp::clip_grad_norm(student.parameters(), 1.0);
    optimizer.step(1e-4);
    optimizer.zero_grad();
    if (s == 0) continue;  // warm-up
    p.forward += forward;
    p.backward += backward;
    p.optimizer += seconds_since(t0);
  }
  return p;
}

void report(const char* name, int64_t params, const char* dtype, int64_t tokens, const Phases& p) {
  std::printf("%-22s %11ld %5s %9.0f %10.3f %10.3f %10.3f\n", name, static_cast<long>(params), dtype,
              static_cast<double>(tokens) / p.total(), p.forward, p.backward, p.optimizer);
}

mp::ModelConfig synthetic_100m() {
  nlohmann::json j = {{"model_type", "llama"},      {"hidden_size", 768},        {"intermediate_size", 2048},
                      {"num_hidden_layers", 12},    {"num_attention_heads", 12}, {"num_key_value_heads", 12},
                      {"vocab_size", 32000},        {"max_position_embeddings", 2048},
                      {"rms_norm_eps", 1e-5},       {"rope_theta", 10000.0},     {"tie_word_embeddings", true}};
  return mp::ModelConfig::from_json(j, "synthetic-100m");
}

}  // namespace

int main(int argc, char** argv) {
  mp::rerun_with_passive_thread_waits(argv);  // as modelpress itself runs
  int threads = 2, steps = 5, big_steps = 2;
  bool skip_big = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--steps") && i + 1 < argc) steps = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--big-steps") && i + 1 < argc) big_steps = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--skip-big")) skip_big = true;
  }
  mp::RuntimeSettings runtime;
  runtime.threads = threads;
  mp::apply_runtime_settings(runtime);
  mp::keep_freed_memory_for_reuse();  // as distill-train's loop does
  at::manual_seed(0);
  const std::string shared = std::string(mp::source_dir()) + "/../shared";
  const std::string teacher = shared + "/models/stories260K";
  std::printf("threads %d\n%-22s %11s %5s %9s %10s %10s %10s\n", threads, "student", "parameters", "dtype",
              "tokens/s", "forward s", "backward s", "adamw s");
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    const char* dtype_name = dtype == at::kFloat ? "f32" : "bf16";
    mp::StudentModel small = mp::StudentModel::from_teacher_layers(teacher, {0, 2, 4});
    report("stories260K 3-layer", small.parameter_count(), dtype_name, 8 * 256 * steps,
           time_training(small, dtype, 8, 256, steps));
    if (skip_big) continue;
    mp::StudentModel big = mp::StudentModel::from_config(synthetic_100m(), 0, teacher);
    report("synthetic ~100M", big.parameter_count(), dtype_name, 1 * 256 * big_steps,
           time_training(big, dtype, 1, 256, big_steps));
  }

  // Teacher-cache throughput: stories260K over eval.txt in windows of 256, k = 32, f16 logprobs.
  const auto dir = std::filesystem::temp_directory_path() / "modelpress-bench-cache";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  mp::tokenize_corpus(teacher, {shared + "/corpora/tinystories/eval.txt"}, (dir / "tokens.h5").string(),
                      /*threads=*/0);
  const mp::TokenDataset data((dir / "tokens.h5").string());
  mp::LlamaModel model(mp::open_model(teacher), {});
  const auto t0 = Clock::now();
  const auto summary = mp::cache_teacher(data, (dir / "cache.h5").string(), {32, 256, "bench", "", mp::LogprobStorage::float16},
                                         [&](const std::vector<int32_t>& window) {
                                           at::NoGradGuard no_grad;
                                           return model.forward(at::tensor(window).to(at::kLong).unsqueeze(0)).squeeze(0);
                                         });
  const double elapsed = seconds_since(t0);
  std::printf("\nteacher cache (stories260K, k 32, f16): %ld tokens in %.1f s = %.0f tokens/s, %.1f bytes/token on disk\n",
              static_cast<long>(summary.tokens), elapsed, static_cast<double>(summary.tokens) / elapsed,
              summary.bytes_per_token());
  std::filesystem::remove_all(dir);
}
