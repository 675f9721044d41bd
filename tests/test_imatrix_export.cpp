// Importance matrices: llama.cpp's two file formats read and written, and `export --imatrix`
// reproducing llama-quantize --imatrix on tinymix-10M byte for byte.
#include <cstring>
#include <fstream>
#include <set>

#include "formats/gguf_export.h"
#include "formats/gguf_file.h"
#include "formats/imatrix_file.h"
#include "lib/runtime/runtime.h"
#include "tests/test_support.h"

using namespace mp;

namespace {

GgufExportSummary export_tinymix(const std::string& out, const std::string& type, const std::string& imatrix) {
  GgufExportOptions options;
  options.type = parse_gguf_export_type(type, false);
  options.imatrix = imatrix;
  return export_gguf(*open_model(test::shared_path("models/tinymix-10M")), out, options);
}

// Names of the tensors whose bytes differ between two files with the same tensors.
std::set<std::string> differing_tensors(const GgufFile& ours, const GgufFile& ref) {
  REQUIRE(ours.tensors().size() == ref.tensors().size());
  std::set<std::string> differ;
  for (const GgufTensorInfo& b : ref.tensors()) {
    INFO(b.name);
    const GgufTensorInfo* a = ours.find_tensor(b.name);
    REQUIRE(a);
    CHECK(a->dims == b.dims);
    REQUIRE(a->type == b.type);
    REQUIRE(a->bytes == b.bytes);
    if (std::memcmp(ours.bytes(*a), ref.bytes(b), a->bytes) != 0) differ.insert(b.name);
  }
  return differ;
}

// Keys whose value or type differs, or that only one file has, leaving out our provenance keys.
std::set<std::string> differing_keys(const GgufFile& ours, const GgufFile& ref) {
  std::set<std::string> differ;
  for (const auto& [key, value] : ref.metadata()) {
    const GgufValue* mine = ours.find(key);
    if (!mine || *mine != value || mine->type() != value.type()) differ.insert(key);
  }
  for (const auto& [key, value] : ours.metadata())
    if (!ref.find(key) && key.rfind("general.modelpress.", 0) != 0) differ.insert(key);
  return differ;
}

}  // namespace

TEST_CASE("export --imatrix reproduces llama-quantize --imatrix on tinymix-10M, every tensor", "[imatrix][gguf_export]") {
  const std::string imatrix = test::shared_path("models/tinymix-10M/llamacpp/imatrix.dat");
  test::ScratchDir dir;
  for (const std::string type : {"Q4_K_M", "Q2_K"}) {
    INFO(type);
    const GgufExportSummary summary = export_tinymix(dir.path(type + ".gguf"), type, imatrix);
    // llama-imatrix never sees the tied token_embd: llama-quantize quantizes it without importance.
    CHECK(summary.without_importance == std::vector<std::string>{"token_embd.weight"});
    CHECK(summary.to_json()["imatrix"]["file"] == imatrix);
    const GgufFile ours(dir.path(type + ".gguf"));
    const GgufFile ref(test::shared_path("models/tinymix-10M/llamacpp/" + type + "-imatrix.gguf"));
    CHECK(differing_tensors(ours, ref).empty());
    // general.name is free text; quantize.imatrix.file is the path the imatrix was given as;
    // general.basename is the converter's guess from the directory name, which the export leaves out.
    CHECK(differing_keys(ours, ref) ==
          std::set<std::string>{"general.name", "general.basename", "quantize.imatrix.file"});
    CHECK(ours.find("quantize.imatrix.file")->as_string() == imatrix);

    // The importance changes the codes: without it, the quantized linears differ.
    export_tinymix(dir.path(type + "-plain.gguf"), type, "");
    const std::set<std::string> changed = differing_tensors(GgufFile(dir.path(type + "-plain.gguf")), ref);
    CHECK(changed.size() == 28);  // every linear of the 4 layers; token_embd has no entry, norms are F32
    CHECK(!changed.count("token_embd.weight"));
  }
}

TEST_CASE("an imatrix changes llama-quantize's types of the first ffn_down layers", "[imatrix][gguf_export]") {
  // With 8 layers, layer 0 is the first eighth.
  const LlamaTensorName down0{"model.layers.0.mlp.down_proj.weight", "blk.0.ffn_down.weight", 0};
  const LlamaTensorName down1{"model.layers.1.mlp.down_proj.weight", "blk.1.ffn_down.weight", 1};
  const auto type = [](const std::string& mix, const LlamaTensorName& t, bool imatrix) {
    return choose_tensor_type(parse_gguf_export_type(mix, false), t, {256, 1024}, 8, 1, true, imatrix).used;
  };
  CHECK(type("IQ4_XS", down0, false) == GgmlType::Q5_K);
  CHECK(type("IQ4_XS", down0, true) == GgmlType::IQ4_XS);
  CHECK(type("IQ4_NL", down0, true) == GgmlType::IQ4_NL);
  CHECK(type("Q4_0", down0, false) == GgmlType::Q4_0);
  CHECK(type("Q4_0", down0, true) == GgmlType::Q4_1);
  CHECK(type("Q5_0", down0, true) == GgmlType::Q5_1);
  CHECK(type("Q4_0", down1, true) == GgmlType::Q4_0);
  CHECK(type("Q4_K_M", down0, true) == type("Q4_K_M", down0, false));
}

TEST_CASE("imatrix files: llama.cpp's .dat reads, and both formats round-trip", "[imatrix]") {
  const std::string dat = test::shared_path("models/tinymix-10M/llamacpp/imatrix.dat");
  const ImportanceMatrix m = read_imatrix(dat);
  CHECK(m.legacy);
  CHECK(m.entries.size() == 28);
  CHECK(m.chunk_count == 643);
  REQUIRE(m.datasets.size() == 1);
  CHECK(m.datasets[0].size() > 0);
  CHECK(m.entries.at("blk.0.ffn_down.weight").sums.size() == 1024);
  CHECK(m.entries.at("blk.0.attn_q.weight").counts == std::vector<int64_t>{643});
  // q, k and v see the same input.
  CHECK(m.entries.at("blk.1.attn_q.weight").sums == m.entries.at("blk.1.attn_v.weight").sums);
  const auto importance = m.importance();
  CHECK(importance.at("blk.0.attn_q.weight")[0] == m.entries.at("blk.0.attn_q.weight").sums[0] / 643.0f);

  test::ScratchDir dir;
  write_imatrix(m, dir.path("again.dat"), true);
  CHECK(test::read_file(dir.path("again.dat")).size() == test::read_file(dat).size());  // same entries, other order
  const ImportanceMatrix again = read_imatrix(dir.path("again.dat"));
  CHECK(again.importance() == importance);
  CHECK(again.datasets == m.datasets);

  write_imatrix(m, dir.path("m.gguf"), false);
  const ImportanceMatrix from_gguf = read_imatrix(dir.path("m.gguf"));
  CHECK_FALSE(from_gguf.legacy);
  CHECK(from_gguf.chunk_count == 643);
  CHECK(from_gguf.datasets == m.datasets);
  CHECK(from_gguf.importance() == importance);
  write_imatrix(from_gguf, dir.path("back.dat"), true);
  CHECK(read_imatrix(dir.path("back.dat")).importance() == importance);
}

TEST_CASE("imatrix files: damaged files are one-line bad input", "[imatrix][cli]") {
  const std::string dat = test::read_file(test::shared_path("models/tinymix-10M/llamacpp/imatrix.dat"));
  REQUIRE(dat.size() > 1000);
  test::ScratchDir dir;
  const auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir.path(name), std::ios::binary) << bytes;
    return dir.path(name);
  };
  const std::string model = test::shared_path("models/tinymix-10M");
  for (const std::string& bad : {write("cut.dat", dat.substr(0, 1000)), write("empty.dat", ""),
                                  write("tail.dat", dat + "xyz")}) {
    const test::CommandResult r =
        test::run_modelpress("export --to gguf --type Q4_K_M -m " + model + " -o " + dir.path("o.gguf") + " --imatrix " + bad);
    INFO(r.err);
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("error: " + bad + ": ") != std::string::npos);  // "<file>: <problem>"
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK_FALSE(std::ifstream(dir.path("o.gguf")).good());
  }
  // An entry whose length is not the weight's row length (tinymix's 512 or 1024 for stories260K's 64 or 172).
  const test::CommandResult r = test::run_modelpress("export --to gguf --type Q8_0 -m " +
                                                     test::shared_path("models/stories260K") + " -o " +
                                                     dir.path("o.gguf") + " --imatrix " +
                                                     test::shared_path("models/tinymix-10M/llamacpp/imatrix.dat"));
  INFO(r.err);
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("imatrix.dat: weight 'blk.0.") != std::string::npos);
  CHECK(r.err.find(" importance values for rows of ") != std::string::npos);
  CHECK_FALSE(std::ifstream(dir.path("o.gguf")).good());
}

TEST_CASE("modelpress imatrix: BOS-led chunks, every token counted, layer 0's input as computed here", "[imatrix][cli]") {
  test::ScratchDir dir;
  const std::string model = test::shared_path("models/tinymix-10M");
  const std::string calib = test::shared_path("corpora/tinymix/calib.txt");
  const test::CommandResult r = test::run_modelpress("imatrix -q --threads 1 -m " + model + " -f " + calib +
                                                     " -c 64 --chunks 2 -o " + dir.path("m.gguf"));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const ImportanceMatrix m = read_imatrix(dir.path("m.gguf"));
  CHECK_FALSE(m.legacy);
  CHECK(m.chunk_count == 2);
  CHECK(m.chunk_size == 64);
  CHECK(m.datasets == std::vector<std::string>{calib});
  CHECK(GgufFile(dir.path("m.gguf")).find("general.modelpress.command"));
  CHECK(std::ifstream(dir.path("m.gguf.manifest.json")).good());
  REQUIRE(m.entries.size() == 28);  // 7 linears x 4 layers; the tied output is never collected
  for (const auto& [name, e] : m.entries) CHECK(e.counts == std::vector<int64_t>{128});
  CHECK(m.entries.at("blk.3.ffn_down.weight").sums.size() == 1024);

  // Layer 0's attention input, from the checkpoint by hand: RMSNorm of the token embeddings.
  const auto source = open_model(model);
  std::vector<int32_t> tokens = source->tokenizer().encode(test::read_file(calib), true);
  std::vector<int64_t> ids;
  for (int chunk = 0; chunk < 2; ++chunk) {
    ids.push_back(1);  // BOS replaces each chunk's first token
    ids.insert(ids.end(), tokens.begin() + chunk * 64 + 1, tokens.begin() + (chunk + 1) * 64);
  }
  const at::Tensor embedding = source->tensor("model.embed_tokens.weight").to(at::kDouble);
  const at::Tensor norm = source->tensor("model.layers.0.input_layernorm.weight").to(at::kDouble);
  const at::Tensor x = embedding.index_select(0, at::tensor(ids));
  const at::Tensor normed = x / (x.pow(2).mean(1, true) + 1e-5).sqrt() * norm;
  const at::Tensor expected = normed.pow(2).sum(0);
  const std::vector<float>& sums = m.entries.at("blk.0.attn_k.weight").sums;
  REQUIRE(sums.size() == 512);
  double worst = 0;
  for (int64_t i = 0; i < 512; ++i)
    worst = std::max(worst, std::abs(sums[i] - expected[i].item<double>()) / expected[i].item<double>());
  CHECK(worst < 1e-5);  // the runtime normalizes in float
}

TEST_CASE("modelpress imatrix on tinymix-10M agrees with llama-imatrix's imatrix.dat", "[.imatrix_full]") {
  test::ScratchDir dir;
  const std::string model = test::shared_path("models/tinymix-10M");
  const test::CommandResult r = test::run_modelpress("imatrix -q --threads 1 -m " + model + " -f " +
                                                     test::shared_path("corpora/tinymix/calib.txt") +
                                                     " -c 256 --format dat -o " + dir.path("ours.dat"));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const ImportanceMatrix ours = read_imatrix(dir.path("ours.dat"));
  const ImportanceMatrix ref = read_imatrix(test::shared_path("models/tinymix-10M/llamacpp/imatrix.dat"));
  CHECK(ours.chunk_count == ref.chunk_count);  // 643 chunks of 256 tokens
  const auto a = ours.importance(), b = ref.importance();
  REQUIRE(a.size() == b.size());
  // llama.cpp sums x² in float, one token at a time, over 164,608 tokens; we sum in double. Its
  // rounding stays well under 1e-3 relative; a wrong token set (e.g. BOS left out) moves columns by more.
  double worst = 0;
  for (const auto& [name, values] : b) {
    INFO(name);
    REQUIRE(a.count(name));
    REQUIRE(a.at(name).size() == values.size());
    for (size_t i = 0; i < values.size(); ++i)
      worst = std::max(worst, double(std::abs(a.at(name)[i] - values[i]) / std::max(1e-6f, std::abs(values[i]))));
  }
  WARN("largest relative difference to llama-imatrix: " << worst);
  CHECK(worst < 1e-3);

  // The export with our matrix against llama-quantize's with llama.cpp's: the tiny differences in
  // importance move a few scale searches. Measured: 4,351 of 6,196,224 bytes differ (0.07%), where
  // the export without an imatrix differs in 1,232,888 (19.9%).
  export_tinymix(dir.path("ours.gguf"), "Q4_K_M", dir.path("ours.dat"));
  const GgufFile mine(dir.path("ours.gguf"));
  const GgufFile ref_file(test::shared_path("models/tinymix-10M/llamacpp/Q4_K_M-imatrix.gguf"));
  uint64_t differing = 0, total = 0;
  for (const GgufTensorInfo& t : ref_file.tensors()) {
    const GgufTensorInfo* m = mine.find_tensor(t.name);
    REQUIRE((m && m->bytes == t.bytes));
    for (uint64_t i = 0; i < t.bytes; ++i) differing += mine.bytes(*m)[i] != ref_file.bytes(t)[i];
    total += t.bytes;
  }
  WARN(differing << " of " << total << " tensor bytes differ from llama-quantize's Q4_K_M-imatrix.gguf");
  CHECK(differing < total / 100);
}
