#include "distill/distill_train.h"

#include <exception>
#include <filesystem>
#include <optional>

#include "distill/cache_teacher.h"
#include "distill/quantized_export.h"
#include "distill/tokenize_corpus.h"
#include "formats/gguf_file.h"
#include "lib/base/error.h"
#include "lib/base/progress.h"
#include "lib/base/sha256.h"
#include "lib/tokenizer/tokenizer.h"

namespace fs = std::filesystem;

namespace mp {

namespace {

std::string directory_of(const std::string& file) {
  const std::string parent = fs::path(file).parent_path().string();
  return parent.empty() ? "." : parent;
}

bool has_tokenizer(const std::string& dir) {
  return fs::exists(fs::path(dir) / "tokenizer.json") || fs::exists(fs::path(dir) / "tokenizer.model");
}

// Tokenizer files for a --student-config student: --tokenizer, else beside the config, else the teacher's.
std::string student_tokenizer_dir(const DistillTrainRequest& r) {
  if (!r.tokenizer.empty()) {
    if (!has_tokenizer(r.tokenizer)) fail_input(r.tokenizer, "no tokenizer.json or tokenizer.model");
    return r.tokenizer;
  }
  const std::string config_dir = directory_of(r.student_config);
  return has_tokenizer(config_dir) || r.teacher.empty() ? config_dir : r.teacher;
}

StudentModel build_student(const DistillTrainRequest& r) {
  const int sources = !r.student.empty() + !r.student_config.empty() + r.init_from_teacher;
  if (sources != 1)
    fail_input("--student/--student-config/--init-from-teacher", "give exactly one way to build the student");
  if (!r.student.empty()) return StudentModel::from_pretrained(r.student);
  if (r.init_from_teacher) {
    if (r.teacher.empty()) fail_input("--init-from-teacher", "needs --teacher");
    return StudentModel::from_teacher_layers(r.teacher, r.keep_layers);
  }
  const ModelConfig config = ModelConfig::from_json(read_json_file(r.student_config), r.student_config);
  const std::string tokenizer_dir = student_tokenizer_dir(r);
  if (has_tokenizer(tokenizer_dir)) {
    const Tokenizer tokenizer = Tokenizer::open(tokenizer_dir);
    if (tokenizer.vocab_size() > config.vocab_size)
      fail_input(r.student_config, "vocab_size " + std::to_string(config.vocab_size) + " is smaller than the " +
                                       std::to_string(tokenizer.vocab_size()) + " tokens of " + tokenizer.origin());
  }
  return StudentModel::from_config(config, r.train.seed, tokenizer_dir);
}

// A text file becomes OUT/<name>.tokens.h5 (rank 0 tokenizes, the others wait); an existing
// tokenization of the same text is reused.
std::string token_dataset_for(const std::string& path, const std::string& tokenizer_dir, const std::string& out,
                              DataParallel& world) {
  if (path.empty() || fs::path(path).extension() == ".h5") return path;
  const std::string h5 = out + "/" + fs::path(path).stem().string() + ".tokens.h5";
  if (world.is_writer()) {
    const std::string text_sha = sha256_file(path);
    const bool current = fs::exists(h5) && [&] {
      const TokenDataset existing(h5);
      return existing.sources().size() == 1 && existing.sources()[0].sha256 == text_sha &&
             existing.tokenizer_sha256() == sha256_file(Tokenizer::open(tokenizer_dir).origin());
    }();
    if (!current) {
      fs::create_directories(out);
      tokenize_corpus(tokenizer_dir, {path}, h5, /*threads=*/0);
    }
  }
  world.barrier();
  return h5;
}

LogprobStorage parse_storage(const std::string& s) {
  if (s == "f16") return LogprobStorage::float16;
  if (s == "f32") return LogprobStorage::float32;
  fail_input("--cache-logprobs", "use f16 or f32, not '" + s + "'");
}

// Runs the teacher over the dataset into the cache, unless a finished cache is already there.
void ensure_teacher_cache(const DistillTrainRequest& r, const TokenDataset& data, DataParallel& world) {
  if (world.is_writer() && !fs::exists(r.cache_teacher)) {
    if (r.teacher.empty()) fail_input("--cache-teacher", r.cache_teacher + " does not exist and no --teacher to build it");
    LlamaModel teacher(open_model(r.teacher), RuntimeOptions{});
    TeacherCacheIdentity identity;
    identity.k = r.cache_k;
    identity.context = r.train.seq;
    identity.teacher_sha256 = model_weights_sha256(r.teacher);
    identity.storage = parse_storage(r.cache_logprobs);
    Progress progress("cache-teacher", data.n_tokens(), "tokens");
    int64_t reported = 0;
    cache_teacher(data, r.cache_teacher, identity,
                  [&](const std::vector<int32_t>& window) {
                    at::NoGradGuard no_grad;
                    const at::Tensor tokens = at::tensor(window).to(at::kLong).unsqueeze(0);
                    return teacher.forward(tokens).squeeze(0);
                  },
                  [&](int64_t done, int64_t) {
                    progress.advance(done - reported);
                    reported = done;
                  });
    progress.finish();
  }
  world.barrier();
  const TeacherCacheReader cache(r.cache_teacher);
  if (cache.identity().dataset_sha256 != data.tokens_sha256())
    fail_input(r.cache_teacher, "teacher cache was computed on other tokens than " + data.path());
  if (!r.teacher.empty() && cache.identity().teacher_sha256 != model_weights_sha256(r.teacher))
    fail_input(r.cache_teacher, "teacher cache was computed by another teacher than " + r.teacher);
}

// A run that fails removes the OUT it created (tokenized data, metrics.jsonl), unless OUT holds a
// checkpoint that --resume can continue from. An OUT that existed before is left to its owner.
class OutputRemovedOnFailure {
 public:
  OutputRemovedOnFailure(std::string out, bool writer) : out_(std::move(out)), owned_(writer && !fs::exists(out_)) {}
  ~OutputRemovedOnFailure() {
    if (!owned_ || std::uncaught_exceptions() == 0 || fs::exists(out_ + "/checkpoint/state.json")) return;
    std::error_code ec;
    fs::remove_all(out_, ec);
  }
  OutputRemovedOnFailure(const OutputRemovedOnFailure&) = delete;
  OutputRemovedOnFailure& operator=(const OutputRemovedOnFailure&) = delete;

 private:
  std::string out_;
  bool owned_;
};

// --grid resolved: frozen and hybrid need a gguf target and a GGUF --init-weights to read the
// parameters from.
std::string grid_mode(const DistillTrainRequest& r, const std::optional<QuantizeTarget>& target) {
  if (!r.grid.empty() && r.grid != "frozen" && r.grid != "hybrid" && r.grid != "rechosen")
    fail_input("--grid", "use frozen, hybrid or rechosen, not '" + r.grid + "'");
  if (!target) {
    if (!r.grid.empty()) fail_input("--grid", "only applies with --quantize");
    if (r.types_from_init) fail_input("--types-from-init", "only applies with --quantize");
    return "";
  }
  if (r.types_from_init && r.init_weights.empty())
    fail_input("--types-from-init", "reads the per-tensor types of --init-weights, a GGUF file; none given");
  if ((r.grid == "frozen" || r.grid == "hybrid") && r.init_weights.empty())
    fail_input("--grid", r.grid + " keeps the block parameters of --init-weights, a GGUF file; none given");
  if (!r.grid.empty()) return r.grid;
  return target->gguf && !r.init_weights.empty() && is_gguf_file(r.init_weights) ? "frozen" : "rechosen";
}

}  // namespace

DistillTrainReport run_distill_train(const DistillTrainRequest& r) {
  // Checked before anything is read or written: an unknown type leaves no output behind.
  std::optional<QuantizeTarget> target =
      r.quantize.empty() ? std::nullopt : std::optional<QuantizeTarget>(parse_quantize_target(r.quantize));
  if (!r.init_weights.empty() && !target) fail_input("--init-weights", "only applies with --quantize");
  const std::string grid = grid_mode(r, target);
  if (r.types_from_init) FakeQuantizer::take_tensor_types(*target, r.init_weights, "--types-from-init");
  const bool stored_grid = grid == "frozen" || grid == "hybrid";
  RuntimeOptions runtime = apply_runtime_settings(r.runtime);
  const WorldInfo world_info = world_from_environment();
  runtime.device = device_for_process(world_info, runtime.device);
  DataParallel world(world_info, runtime.device, parse_comm_backend(r.backend));
  if (!world.is_writer()) Progress::set_quiet(true);
  if (r.data.empty()) fail_input("--data", "required");
  const OutputRemovedOnFailure output_guard(r.train.out, world.is_writer());

  StudentModel student = build_student(r);
  if (!r.init_weights.empty()) student.load_values(*open_model(r.init_weights));
  std::shared_ptr<const FakeQuantizer> quantizer;
  if (target) {
    auto fake = std::make_shared<FakeQuantizer>(*target, student.config());
    if (stored_grid) fake->freeze_grids(r.init_weights, "--grid", grid == "hybrid");
    quantizer = fake;
    student.set_weight_view(
        [quantizer](const std::string& name, const at::Tensor& master) { return quantizer->apply(name, master); });
  }
  student.to(runtime.device);
  const std::string tokenizer_dir = !r.teacher.empty() ? r.teacher : !r.student.empty() ? r.student
                                                                    : student_tokenizer_dir(r);
  const TokenDataset data(token_dataset_for(r.data, tokenizer_dir, r.train.out, world));
  std::unique_ptr<TokenDataset> eval_data;
  if (!r.eval_data.empty())
    eval_data = std::make_unique<TokenDataset>(token_dataset_for(r.eval_data, tokenizer_dir, r.train.out, world));
  data.check_vocabulary(student.config().vocab_size, "the student");
  if (eval_data) eval_data->check_vocabulary(student.config().vocab_size, "the student");

  DistillTrainReport report;
  report.rank = world.rank();
  report.world_size = world.size();
  report.backend = world.backend_name();
  report.student_parameters = student.parameter_count();
  std::unique_ptr<TeacherSignal> signal;
  // alpha = 0 is cross-entropy only: the teacher may still provide the initial layers.
  if (r.distill.alpha == 0 && !r.cache_only) {
    signal = cross_entropy_signal(r.distill);
  } else if (!r.cache_teacher.empty()) {
    ensure_teacher_cache(r, data, world);
    report.cache_tokens = TeacherCacheReader(r.cache_teacher).n_tokens();
    report.cache_bytes_per_token =
        static_cast<double>(fs::file_size(r.cache_teacher)) / static_cast<double>(report.cache_tokens);
    if (r.cache_only) return report;
    signal = cached_teacher_signal(r.cache_teacher, r.train.seq, r.distill);
  } else if (!r.teacher.empty()) {
    signal = online_teacher_signal(std::make_shared<LlamaModel>(open_model(r.teacher), RuntimeOptions{}), r.distill);
  } else {
    signal = cross_entropy_signal(r.distill);
  }
  report.signal = signal->describe();
  TrainOptions train = r.train;
  train.dtype = runtime.dtype;
  // A resume must round on the same grids and types: stored ones are those of the same file.
  train.quantize = r.quantize;
  if (stored_grid || r.types_from_init)
    train.quantize += ", grid " + grid + (r.types_from_init ? ", types" : "") + " from sha256 " + sha256_file(r.init_weights);
  report.train = mp::train(student, *signal, data, eval_data.get(), world, train);
  if (quantizer) {
    for (const auto& [name, grid] : quantizer->grids()) ++report.quantized_grids[grid];
    report.quantize_fallbacks = quantizer->fallbacks();
    report.grid = grid;
    report.frozen_tensors = static_cast<int64_t>(quantizer->frozen_grids().size());
    if (world.is_writer() && !report.train.stopped_early)
      report.quantized_out =
          export_quantized_student(*target, r.train.out, stored_grid ? r.init_weights : "", grid == "hybrid");
  }
  return report;
}

}  // namespace mp
