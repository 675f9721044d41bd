// Distillation losses against plain double-precision references written with loops.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "distill/losses.h"

namespace {

using Row = std::vector<double>;
using mp::Divergence;
using mp::DistillOptions;

Row row_of(const at::Tensor& matrix, int64_t r) {
  const at::Tensor row = matrix[r].to(at::kDouble).contiguous();
  return Row(row.data_ptr<double>(), row.data_ptr<double>() + row.numel());
}

Row softmax(const Row& logits, double temperature) {
  double max = logits[0];
  for (double x : logits) max = std::max(max, x);
  Row p(logits.size());
  double sum = 0;
  for (size_t i = 0; i < p.size(); ++i) sum += p[i] = std::exp((logits[i] - max) / temperature);
  for (double& x : p) x /= sum;
  return p;
}

// p^(1/T), renormalised.
Row temper(const Row& p, double temperature) {
  Row q(p.size());
  double sum = 0;
  for (size_t i = 0; i < p.size(); ++i) sum += q[i] = std::pow(p[i], 1.0 / temperature);
  for (double& x : q) x /= sum;
  return q;
}

double kl(const Row& p, const Row& q) {
  double sum = 0;
  for (size_t i = 0; i < p.size(); ++i)
    if (p[i] > 0) sum += p[i] * (std::log(p[i]) - std::log(q[i]));
  return sum;
}

double divergence(const Row& teacher, const Row& student, const DistillOptions& o) {
  if (o.divergence == Divergence::forward_kl) return kl(teacher, student);
  if (o.divergence == Divergence::reverse_kl) return kl(student, teacher);
  if (o.beta == 0) return kl(teacher, student);
  if (o.beta == 1) return kl(student, teacher);
  Row mixture(teacher.size());
  for (size_t i = 0; i < teacher.size(); ++i)
    mixture[i] = o.beta * teacher[i] + (1 - o.beta) * student[i];
  return o.beta * kl(teacher, mixture) + (1 - o.beta) * kl(student, mixture);
}

bool counted(const at::Tensor& labels, int64_t r, int64_t ignore_index) {
  return !labels.defined() || labels[r].item<int64_t>() != ignore_index;
}

double reference_kd(const at::Tensor& student, const at::Tensor& teacher, const at::Tensor& labels,
                    const DistillOptions& o) {
  double sum = 0;
  int64_t rows = 0;
  for (int64_t r = 0; r < student.size(0); ++r) {
    if (!counted(labels, r, o.ignore_index)) continue;
    sum += divergence(softmax(row_of(teacher, r), o.temperature),
                      softmax(row_of(student, r), o.temperature), o);
    ++rows;
  }
  return o.temperature * o.temperature * sum / std::max<int64_t>(rows, 1);
}

// The k+1 bucket probabilities of a full distribution for the given token indices.
Row buckets(const Row& p, const at::Tensor& indices, int64_t r) {
  Row b;
  double rest = 1;
  for (int64_t j = 0; j < indices.size(1); ++j) {
    b.push_back(p[static_cast<size_t>(indices[r][j].item<int64_t>())]);
    rest -= b.back();
  }
  b.push_back(std::max(rest, 0.0));
  return b;
}

double reference_topk_kd(const at::Tensor& student, const mp::TeacherTopK& teacher,
                         const at::Tensor& labels, const DistillOptions& o) {
  double sum = 0;
  int64_t rows = 0;
  for (int64_t r = 0; r < student.size(0); ++r) {
    if (!counted(labels, r, o.ignore_index)) continue;
    Row t;
    for (int64_t j = 0; j < teacher.k(); ++j) t.push_back(std::exp(teacher.logprobs[r][j].item<double>()));
    t.push_back(std::exp(teacher.tail_logmass[r].item<double>()));
    const Row s = buckets(softmax(row_of(student, r), 1.0), teacher.indices, r);
    sum += divergence(temper(t, o.temperature), temper(s, o.temperature), o);
    ++rows;
  }
  return o.temperature * o.temperature * sum / std::max<int64_t>(rows, 1);
}

double reference_ce(const at::Tensor& logits, const at::Tensor& labels, int64_t ignore_index) {
  double sum = 0;
  int64_t rows = 0;
  for (int64_t r = 0; r < logits.size(0); ++r) {
    if (!counted(labels, r, ignore_index)) continue;
    sum -= std::log(softmax(row_of(logits, r), 1.0)[static_cast<size_t>(labels[r].item<int64_t>())]);
    ++rows;
  }
  return sum / std::max<int64_t>(rows, 1);
}

// Peaked enough that the top tokens carry most of the mass, as real LM outputs do.
at::Tensor random_logits(int64_t rows, int64_t vocab, uint64_t seed) {
  at::manual_seed(seed);
  return at::randn({rows, vocab}, at::kFloat) * 3.0;
}

at::Tensor labels_with_ignored(int64_t rows, int64_t vocab) {
  at::Tensor labels = at::randint(vocab, {rows}, at::kLong);
  labels[1] = -100;
  labels[rows - 1] = -100;
  return labels;
}

std::vector<DistillOptions> option_grid() {
  std::vector<DistillOptions> grid;
  for (double t : {1.0, 2.0, 0.7}) {
    for (Divergence d : {Divergence::forward_kl, Divergence::reverse_kl})
      grid.push_back({d, 0.5, t, 1.0, -100, 3});
    for (double beta : {0.0, 0.1, 0.5, 0.9, 1.0}) grid.push_back({Divergence::jsd, beta, t, 1.0, -100, 3});
  }
  return grid;
}

std::string describe(const DistillOptions& o) {
  const char* names[] = {"forward_kl", "reverse_kl", "jsd"};
  return std::string(names[static_cast<int>(o.divergence)]) + " beta=" + std::to_string(o.beta) +
         " T=" + std::to_string(o.temperature);
}

double value(const at::Tensor& scalar) { return scalar.item<double>(); }

}  // namespace

TEST_CASE("kd_loss on full logits matches the reference", "[distill]") {
  const at::Tensor student = random_logits(9, 13, 1), teacher = random_logits(9, 13, 2);
  const at::Tensor labels = labels_with_ignored(9, 13);
  for (const auto& o : option_grid()) {
    INFO(describe(o));
    CHECK(value(mp::kd_loss(student, teacher, labels, o)) ==
          Approx(reference_kd(student, teacher, labels, o)).epsilon(1e-5));
    CHECK(value(mp::kd_loss(student, teacher, at::Tensor(), o)) ==
          Approx(reference_kd(student, teacher, at::Tensor(), o)).epsilon(1e-5));
  }
}

TEST_CASE("cross-entropy and the alpha mix match the reference", "[distill]") {
  const at::Tensor student = random_logits(8, 10, 3), teacher = random_logits(8, 10, 4);
  const at::Tensor labels = labels_with_ignored(8, 10);
  const double ce = reference_ce(student, labels, -100);
  CHECK(value(mp::cross_entropy_loss(student, labels, -100, 3)) == Approx(ce).epsilon(1e-5));
  for (double alpha : {0.0, 0.3, 1.0}) {
    DistillOptions o{Divergence::jsd, 0.5, 2.0, alpha, -100, 3};
    const double expected = alpha * reference_kd(student, teacher, labels, o) + (1 - alpha) * ce;
    CHECK(value(mp::distillation_loss(student, teacher, labels, o)) == Approx(expected).epsilon(1e-5));
    const mp::TeacherTopK top = mp::teacher_topk(teacher, 4);
    const double expected_topk = alpha * reference_topk_kd(student, top, labels, o) + (1 - alpha) * ce;
    CHECK(value(mp::distillation_loss(student, top, labels, o)) == Approx(expected_topk).epsilon(1e-5));
  }
}

TEST_CASE("JSD at beta 0.5 is symmetric, and divergences of identical inputs are 0", "[distill]") {
  const at::Tensor a = random_logits(6, 17, 5), b = random_logits(6, 17, 6);
  DistillOptions jsd{Divergence::jsd, 0.5, 1.5, 1.0, -100, 4};
  const double ab = value(mp::kd_loss(a, b, at::Tensor(), jsd));
  CHECK(ab > 0.01);
  CHECK(value(mp::kd_loss(b, a, at::Tensor(), jsd)) == Approx(ab).epsilon(1e-6));
  DistillOptions forward{Divergence::forward_kl, 0.5, 1.0, 1.0, -100, 4};
  CHECK(value(mp::kd_loss(b, a, at::Tensor(), forward)) !=
        Approx(value(mp::kd_loss(a, b, at::Tensor(), forward))).epsilon(1e-3));
  for (const auto& o : option_grid()) {
    INFO(describe(o));
    CHECK(std::abs(value(mp::kd_loss(a, a, at::Tensor(), o))) < 1e-6);
    CHECK(std::abs(value(mp::kd_loss(a, mp::teacher_topk(a, 5), at::Tensor(), o))) < 1e-6);
  }
}

TEST_CASE("top-k kd_loss matches the bucket reference", "[distill]") {
  const at::Tensor student = random_logits(7, 20, 7), teacher = random_logits(7, 20, 8);
  const at::Tensor labels = labels_with_ignored(7, 20);
  for (int64_t k : {1, 5, 19}) {
    const mp::TeacherTopK top = mp::teacher_topk(teacher, k);
    for (const auto& o : option_grid()) {
      INFO(describe(o) << " k=" << k);
      CHECK(value(mp::kd_loss(student, top, labels, o)) ==
            Approx(reference_topk_kd(student, top, labels, o)).epsilon(1e-4));
    }
  }
}

TEST_CASE("top-k with k = V equals the full loss", "[distill]") {
  const at::Tensor student = random_logits(5, 12, 9), teacher = random_logits(5, 12, 10);
  const mp::TeacherTopK all = mp::teacher_topk(teacher, 12);
  CHECK(std::isinf(all.tail_logmass[0].item<float>()));
  for (const auto& o : option_grid()) {
    INFO(describe(o));
    CHECK(value(mp::kd_loss(student, all, at::Tensor(), o)) ==
          Approx(value(mp::kd_loss(student, teacher, at::Tensor(), o))).epsilon(1e-5));
  }
}

TEST_CASE("top-k buckets hold all the probability mass", "[distill]") {
  const at::Tensor logits = random_logits(6, 30, 11);
  for (int64_t k : {1, 8, 29, 30}) {
    const mp::TeacherTopK top = mp::teacher_topk(logits, k);
    const at::Tensor teacher_mass = top.logprobs.exp().sum(1) + top.tail_logmass.exp();
    CHECK(at::allclose(teacher_mass, at::ones({6}), 1e-5, 1e-6));
    const at::Tensor student = mp::topk_bucket_logprobs(random_logits(6, 30, 12), top.indices);
    REQUIRE(student.size(1) == k + 1);
    CHECK(at::allclose(student.exp().sum(1), at::ones({6}), 1e-5, 1e-6));
  }
}

TEST_CASE("chunked losses equal unchunked ones", "[distill]") {
  const at::Tensor student = random_logits(11, 16, 13), teacher = random_logits(11, 16, 14);
  const at::Tensor labels = labels_with_ignored(11, 16);
  const mp::TeacherTopK top = mp::teacher_topk(teacher, 6);
  for (auto o : option_grid()) {
    o.alpha = 0.6;
    o.chunk_rows = 1000;
    const double whole = value(mp::distillation_loss(student, teacher, labels, o));
    const double whole_topk = value(mp::distillation_loss(student, top, labels, o));
    for (int64_t chunk : {1, 4}) {
      o.chunk_rows = chunk;
      INFO(describe(o) << " chunk_rows=" << chunk);
      CHECK(value(mp::distillation_loss(student, teacher, labels, o)) == Approx(whole).epsilon(1e-6));
      CHECK(value(mp::distillation_loss(student, top, labels, o)) == Approx(whole_topk).epsilon(1e-6));
    }
  }
}

TEST_CASE("loss gradients match central finite differences", "[distill]") {
  const at::Tensor student = random_logits(3, 6, 15).to(at::kDouble);
  const at::Tensor teacher = random_logits(3, 6, 16).to(at::kDouble);
  const at::Tensor labels = at::tensor(std::vector<int64_t>{2, -100, 5});
  const mp::TeacherTopK top = mp::teacher_topk(teacher, 3);
  const mp::TeacherTopK top_double{top.indices, top.logprobs.to(at::kDouble),
                                   top.tail_logmass.to(at::kDouble)};
  for (auto o : option_grid()) {
    o.alpha = 0.7;
    for (bool use_topk : {false, true}) {
      INFO(describe(o) << (use_topk ? " top-k" : " full"));
      auto loss = [&](const at::Tensor& s) {
        return use_topk ? mp::distillation_loss(s, top_double, labels, o)
                        : mp::distillation_loss(s, teacher, labels, o);
      };
      at::Tensor x = student.clone().requires_grad_(true);
      loss(x).backward();
      const at::Tensor grad = x.grad();
      REQUIRE(grad.defined());
      const double eps = 1e-6;
      for (int64_t r = 0; r < 3; ++r)
        for (int64_t v = 0; v < 6; ++v) {
          at::Tensor plus = student.clone(), minus = student.clone();
          plus[r][v] += eps;
          minus[r][v] -= eps;
          const double numeric = (value(loss(plus)) - value(loss(minus))) / (2 * eps);
          CHECK(grad[r][v].item<double>() == Approx(numeric).margin(1e-6));
        }
      CHECK(grad[1].abs().sum().item<double>() == 0.0);  // the ignored row gets no gradient
    }
  }
}

TEST_CASE("loss_and_gradient equals autograd through the whole loss", "[distill]") {
  const at::Tensor student = random_logits(10, 14, 17), teacher = random_logits(10, 14, 18);
  at::Tensor labels = labels_with_ignored(10, 14);
  labels.narrow(0, 4, 4).fill_(-100);  // a chunk of 4 with nothing counted in it
  const mp::TeacherTopK top = mp::teacher_topk(teacher, 5);
  for (auto o : option_grid()) {
    o.alpha = 0.4;
    for (bool use_topk : {false, true}) {
      at::Tensor x = student.clone().requires_grad_(true);
      const at::Tensor whole = use_topk ? mp::distillation_loss(x, top, labels, o)
                                        : mp::distillation_loss(x, teacher, labels, o);
      whole.backward();
      for (int64_t chunk : {1, 4, 100}) {
        o.chunk_rows = chunk;
        INFO(describe(o) << (use_topk ? " top-k" : " full") << " chunk_rows=" << chunk);
        const mp::LossAndGradient lg =
            use_topk ? mp::distillation_loss_and_gradient(student, top, labels, o)
                     : mp::distillation_loss_and_gradient(student, teacher, labels, o);
        CHECK(value(lg.loss) == Approx(value(whole)).epsilon(1e-6));
        CHECK(at::allclose(lg.gradient, x.grad(), 1e-5, 1e-7));
      }
    }
  }
}
