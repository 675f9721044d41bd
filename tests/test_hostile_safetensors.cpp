// Safetensors checkpoints that disagree with themselves or their config, and indexes that point
// outside the model: refused with exit code 3 and one line naming the file and the tensor or field.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "formats/safetensors.h"
#include "tests/hostile_inputs.h"

namespace fs = std::filesystem;
using mp::test::quoted;

namespace {

std::string eval_command(const std::string& model) {
  return "eval -q -m " + quoted(model) + " -f " + quoted(mp::test::shared_path("corpora/tinystories/eval.txt")) +
         " --ctx 64 --chunks 1 --threads 1";
}

// stories260K as one shard, model-00001-of-00001.safetensors, with an index mapping every tensor to
// `shard` (which may be anything a hostile index names).
std::string sharded_stories(const std::string& dir, const std::string& shard) {
  mp::test::stories_with_config(dir, [](nlohmann::json&) {});
  fs::rename(fs::path(dir) / "model.safetensors", fs::path(dir) / "model-00001-of-00001.safetensors");
  nlohmann::json index = {{"metadata", nlohmann::json::object()}, {"weight_map", nlohmann::json::object()}};
  const mp::SafetensorsFile shard_file(dir + "/model-00001-of-00001.safetensors");
  for (const auto& t : shard_file.tensors()) index["weight_map"][t.name] = shard;
  std::ofstream(dir + "/model.safetensors.index.json") << index.dump(2);
  return dir;
}

}  // namespace

TEST_CASE("hostile safetensors: a weight_map naming files outside the model directory is refused", "[hostile]") {
  mp::test::ScratchDir dir;
  fs::copy_file(mp::test::shared_path("models/stories260K/model.safetensors"), dir.path("outside.safetensors"));
  sharded_stories(dir.path("plain"), "model-00001-of-00001.safetensors");
  CHECK(mp::test::run_modelpress(eval_command(dir.path("plain"))).exit_code == 0);  // the layout itself is fine

  for (const std::string& shard : {std::string("../outside.safetensors"), dir.path("outside.safetensors"),
                                   std::string("link.safetensors")}) {
    INFO(shard);
    const std::string model = sharded_stories(dir.path("m"), shard);
    fs::create_symlink(dir.path("outside.safetensors"), model + "/link.safetensors");
    mp::test::require_bad_input(mp::test::run_modelpress(eval_command(model)), "model.safetensors.index.json",
                                "weight_map");
    fs::remove_all(model);
  }
}

TEST_CASE("hostile safetensors: a norm of shape [64, 1] is refused when loaded, not broadcast", "[hostile]") {
  mp::test::ScratchDir dir;
  const std::string model = mp::test::stories_with_config(dir.path("m"), [](nlohmann::json&) {});
  mp::test::rewrite_tensor(model, "model.norm.weight", [](at::Tensor t) { return t.reshape({64, 1}).contiguous(); });
  mp::test::require_bad_input(mp::test::run_modelpress(eval_command(model)), model, "model.norm.weight");
  mp::test::rewrite_tensor(model, "model.norm.weight", [](at::Tensor t) { return t.reshape({64}).contiguous(); });
  mp::test::rewrite_tensor(model, "model.layers.2.mlp.down_proj.weight",
                           [](at::Tensor t) { return t.narrow(1, 0, 100).contiguous(); });
  mp::test::require_bad_input(mp::test::run_modelpress(eval_command(model)), model, "model.layers.2.mlp.down_proj.weight");
}

TEST_CASE("hostile safetensors: a header nested 70,000 levels deep is refused", "[hostile]") {
  mp::test::ScratchDir dir;
  const std::string model = mp::test::stories_with_config(dir.path("m"), [](nlohmann::json&) {});
  const std::string header = mp::test::deeply_nested_json(70000);
  std::ofstream out(model + "/model.safetensors", std::ios::binary | std::ios::trunc);
  const uint64_t length = header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((length >> (8 * i)) & 0xff));
  out << header;
  out.close();
  mp::test::require_bad_input(mp::test::run_modelpress(eval_command(model)), "model.safetensors", "nested deeper");
}

TEST_CASE("hostile safetensors: GPTQ tensors that disagree are bad input naming the tensor", "[hostile]") {
  mp::test::ScratchDir dir;
  const std::string model = mp::test::stories_with_config(dir.path("m"), [](nlohmann::json&) {});
  const auto quantized = mp::test::run_modelpress(
      "quantize -q --method rtn --bits 4 --group-size 32 --nsamples 2 --seqlen 32 --threads 1 -m " + quoted(model) +
      " -o " + quoted(dir.path("q")) + " --calib " + quoted(mp::test::shared_path("corpora/tinystories/calib.txt")));
  INFO(quantized.err);
  REQUIRE(quantized.exit_code == 0);
  REQUIRE(mp::test::run_modelpress(eval_command(dir.path("q"))).exit_code == 0);

  const std::string module = "model.layers.0.self_attn.q_proj";
  const std::vector<std::pair<std::string, std::function<at::Tensor(at::Tensor)>>> breakages = {
      {".g_idx", [](at::Tensor t) { return t.fill_(1000); }},                       // a group that is not stored
      {".g_idx", [](at::Tensor t) { return t.narrow(0, 0, 32).contiguous(); }},     // too few input columns
      {".qzeros", [](at::Tensor t) { return t.narrow(1, 0, 1).contiguous(); }},     // was "bit unpacking"
      {".qweight", [](at::Tensor t) { return t.narrow(0, 0, 3).contiguous(); }},
  };
  for (const auto& [tensor, edit] : breakages) {
    INFO(tensor);
    fs::remove_all(dir.path("broken"));
    fs::copy(dir.path("q"), dir.path("broken"));
    mp::test::rewrite_tensor(dir.path("broken"), module + tensor, edit);
    mp::test::require_bad_input(mp::test::run_modelpress(eval_command(dir.path("broken"))), module, tensor.substr(1));
  }
}
