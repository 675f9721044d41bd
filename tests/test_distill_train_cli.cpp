// distill-train end to end on a tiny random model: a killed and resumed run ends bit-identical to
// an uninterrupted one (Llama and Qwen2 students), two Gloo processes match one process with twice
// the accumulation, KD from a teacher cache trains, and a Qwen2 student learns from an online Qwen2
// teacher and is read back by the runtime.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <filesystem>

#include "distill/student_model.h"
#include "distill/token_dataset.h"
#include "formats/safetensors.h"
#include "tests/test_support.h"

namespace {

// A token dataset the tiny config's vocabulary covers, with some structure to learn.
void write_tokens(const std::string& path) {
  mp::TokenDatasetWriter writer(path, "tok");
  for (int d = 0; d < 12; ++d) {
    std::vector<int32_t> doc(200);
    for (size_t i = 0; i < doc.size(); ++i) doc[i] = static_cast<int32_t>((i * 7 + d * 3) % 97 + 3);
    writer.add_document(doc);
  }
  writer.commit();
}

struct TinySetup {
  mp::test::ScratchDir dir;
  std::string common;
  explicit TinySetup(const std::string& model_type = "llama") {
    write_tokens(dir.path("tokens.h5"));
    std::ofstream(dir.path("config.json")) << mp::test::tiny_config(model_type).dump();
    common = "distill-train --student-config '" + dir.path("config.json") + "' --data '" + dir.path("tokens.h5") +
             "' --seq 32 --warmup 2 --threads 1 --quiet --seed 3";
  }
};

std::map<std::string, at::Tensor> weights(const std::string& model_dir) {
  const mp::SafetensorsFile file(model_dir + "/model.safetensors");
  std::map<std::string, at::Tensor> out;
  for (const auto& info : file.tensors()) out[info.name] = file.tensor(info).clone();
  return out;
}

int free_port() {
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
  close(s);
  return ntohs(addr.sin_port);
}

}  // namespace

TEST_CASE("distill-train: a killed run resumes to bit-identical weights", "[distill][train][cli]") {
  const std::string model_type = GENERATE("llama", "qwen2");  // qwen2: biases in the checkpoint too
  TinySetup t(model_type);
  const std::string run = t.common + " --lr 3e-3 --steps 7 --batch 2 --grad-accum 2 --checkpoint-every 2";
  auto full = mp::test::run_modelpress(run + " --out '" + t.dir.path("full") + "'");
  REQUIRE(full.exit_code == 0);
  // Stopped after step 5: the checkpoint holds step 4, so step 5 is lost as in a real kill.
  auto killed = mp::test::run_modelpress(run + " --out '" + t.dir.path("resumed") + "' --stop-after-step 5");
  REQUIRE(killed.exit_code == 0);
  REQUIRE_FALSE(std::filesystem::exists(t.dir.path("resumed/model.safetensors")));
  // As if killed while replacing its checkpoint, between moving the old one aside and renaming the
  // new one into place (scripts/kill9.sh met the step after: the old one left aside in the output).
  std::filesystem::rename(t.dir.path("resumed/checkpoint"), t.dir.path("resumed/.checkpoint.previous-99999"));
  std::filesystem::create_directories(t.dir.path("resumed/.checkpoint.partial-99999"));
  auto resumed = mp::test::run_modelpress(run + " --out '" + t.dir.path("resumed") + "' --resume --json");
  REQUIRE(resumed.exit_code == 0);
  CHECK(nlohmann::json::parse(resumed.out)["resumed_from_step"] == 4);
  for (const auto& entry : std::filesystem::directory_iterator(t.dir.path("resumed")))
    CHECK(entry.path().filename().string().rfind(".checkpoint", 0) == std::string::npos);

  const auto a = weights(t.dir.path("full")), b = weights(t.dir.path("resumed"));
  REQUIRE(a.size() == b.size());
  for (const auto& [name, value] : a) {
    INFO(name);
    CHECK(value.equal(b.at(name)));
  }
  if (model_type == "qwen2") CHECK(a.at("model.layers.1.self_attn.k_proj.bias").abs().max().item<double>() > 0);
  // The metrics read as one run: steps 1..7, once each.
  std::ifstream metrics(t.dir.path("resumed/metrics.jsonl"));
  std::string line;
  int64_t expected = 1;
  while (std::getline(metrics, line)) CHECK(nlohmann::json::parse(line)["step"] == expected++);
  CHECK(expected == 8);

  // A resume with other settings is refused, naming the setting.
  auto mismatched = mp::test::run_modelpress(t.common + " --lr 3e-3 --steps 7 --batch 3 --checkpoint-every 2 --out '" +
                                             t.dir.path("resumed") + "' --resume");
  CHECK(mismatched.exit_code == 3);
  CHECK_THAT(mismatched.err, Catch::Contains("global_batch"));
}

TEST_CASE("distill-train: two Gloo processes equal one with 2x accumulation", "[distill][train][cli][distributed]") {
  TinySetup t;
  const std::string run = t.common + " --lr 3e-3 --steps 4 --batch 2";
  auto single = mp::test::run_modelpress(run + " --grad-accum 2 --out '" + t.dir.path("single") + "'");
  REQUIRE(single.exit_code == 0);
  const std::string launch = "WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(free_port()) + " '" +
                             mp::test::modelpress_binary() + "' " + run + " --out '" + t.dir.path("ddp") + "'";
  const std::string both = "(RANK=0 " + launch + " >'" + t.dir.path("r0.log") + "' 2>&1 & RANK=1 " + launch + " >'" +
                           t.dir.path("r1.log") + "' 2>&1; s1=$?; wait $!; s0=$?; exit $((s0 + s1)))";
  REQUIRE(std::system(both.c_str()) == 0);
  const auto a = weights(t.dir.path("single")), b = weights(t.dir.path("ddp"));
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (const auto& [name, value] : a) worst = std::max(worst, (value - b.at(name)).abs().max().item<double>());
  CHECK(worst < 1e-5);
  // And the runs did move the weights (the comparison is not between two untouched inits).
  auto untrained = mp::test::run_modelpress(t.common + " --steps 0 --out '" + t.dir.path("init") + "'");
  REQUIRE(untrained.exit_code == 0);
  CHECK((weights(t.dir.path("init")).at("model.norm.weight") - a.at("model.norm.weight")).abs().max().item<double>() > 1e-3);
}

TEST_CASE("distill-train: KD from a teacher cache lowers the KD loss", "[distill][train][cli]") {
  TinySetup t;
  // stories260K has the tiny config's vocabulary size (512) and sharp predictions to learn from.
  const std::string teacher = mp::test::shared_path("models/stories260K");
  const std::string run = t.common + " --teacher '" + teacher + "' --cache-teacher '" +
                          t.dir.path("cache.h5") + "' --cache-k 8 --batch 4 --json";
  auto first = mp::test::run_modelpress(run + " --steps 1 --lr 0 --out '" + t.dir.path("a") + "'");
  REQUIRE(first.exit_code == 0);
  const auto start = nlohmann::json::parse(first.out);
  CHECK(start["cache_tokens"] == 12 * 200);
  CHECK(start["cache_bytes_per_token"].get<double>() > 0);
  auto trained = mp::test::run_modelpress(run + " --steps 30 --lr 3e-3 --out '" + t.dir.path("b") + "'");
  REQUIRE(trained.exit_code == 0);
  const auto end = nlohmann::json::parse(trained.out);
  CHECK(end["signal"].get<std::string>().find("cached teacher") != std::string::npos);
  CHECK(end["final_train_loss"].get<double>() < 0.7 * start["final_train_loss"].get<double>());
}

TEST_CASE("distill-train: a qwen2 student learns from a qwen2 teacher and the runtime reads it", "[distill][train][cli]") {
  TinySetup t("qwen2");
  // The teacher: random qwen2 weights with biases, and stories260K's tokenizer (same vocabulary
  // size), which the student ships so eval and generate can read text.
  mp::test::write_random_model(t.dir.path("teacher"), mp::test::tiny_config("qwen2"), 17);
  std::filesystem::copy_file(mp::test::shared_path("models/stories260K/tokenizer.model"),
                             t.dir.path("teacher/tokenizer.model"));
  const std::string run = t.common + " --teacher '" + t.dir.path("teacher") + "' --batch 2 --json";
  auto first = mp::test::run_modelpress(run + " --steps 1 --lr 0 --out '" + t.dir.path("a") + "'");
  REQUIRE(first.exit_code == 0);
  auto trained = mp::test::run_modelpress(run + " --steps 25 --lr 1e-2 --out '" + t.dir.path("b") + "'");
  REQUIRE(trained.exit_code == 0);
  const auto start = nlohmann::json::parse(first.out), end = nlohmann::json::parse(trained.out);
  CHECK(end["signal"].get<std::string>().find("online teacher") != std::string::npos);
  CHECK(end["final_train_loss"].get<double>() < 0.8 * start["final_train_loss"].get<double>());
  const auto w = weights(t.dir.path("b"));
  CHECK(w.at("model.layers.0.self_attn.q_proj.bias").abs().max().item<double>() > 1e-4);  // trained from 0

  // generate reports the runtime's logits at the prompt's last position: they equal the student's
  // own forward pass on the written weights.
  auto gen = mp::test::run_modelpress("generate -m '" + t.dir.path("b") +
                                      "' -p 'Once upon a time' -n 1 --top-logits 3 --json --threads 1 --quiet --dtype f32");
  REQUIRE(gen.exit_code == 0);
  const auto g = nlohmann::json::parse(gen.out);
  const std::vector<int64_t> prompt = g["prompt_tokens"].get<std::vector<int64_t>>();
  mp::StudentModel student = mp::StudentModel::from_pretrained(t.dir.path("b"));
  at::NoGradGuard no_grad;
  const at::Tensor logits = student.forward(at::tensor(prompt).unsqueeze(0), at::kFloat)[0][-1];
  const auto [values, ids] = logits.topk(3);
  for (int i = 0; i < 3; ++i) {
    CHECK(g["top_logits"][i]["id"] == ids[i].item<int64_t>());
    CHECK(g["top_logits"][i]["logit"].get<double>() == Approx(values[i].item<double>()).margin(1e-4));
  }
  {
    std::ofstream story(t.dir.path("story.txt"));
    for (int i = 0; i < 4; ++i) story << "Once upon a time there was a little girl. She liked to play outside.\n";
  }
  auto eval = mp::test::run_modelpress("eval -m '" + t.dir.path("b") + "' -f '" + t.dir.path("story.txt") +
                                       "' --ctx 16 --json --threads 1 --quiet");
  REQUIRE(eval.exit_code == 0);
  CHECK(std::isfinite(nlohmann::json::parse(eval.out)["ppl"].get<double>()));
}
