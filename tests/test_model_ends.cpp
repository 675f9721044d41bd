// The runtime never holds the token embedding or the LM head converted whole: it looks up only the
// rows of the tokens and computes the logits a chunk of head rows at a time. Checked against the
// whole-matrix path (the tensor converted whole, then at::embedding and one at::linear) on a
// quantized GGUF, tied and untied, and on bf16 shards, at f32 and bf16 compute, with the head cut
// into many chunks and a short last one. Also: GGUF rows decoded straight to bf16 equal f32 decoding
// cast to bf16.
#include <filesystem>
#include <limits>

#include "formats/gguf_export.h"
#include "formats/gguf_rows.h"
#include "lib/arch/architecture.h"
#include "lib/runtime/gguf_model_source.h"
#include "lib/runtime/llama_model.h"
#include "lib/runtime/model_ends.h"
#include "tests/test_support.h"

using namespace mp;

namespace {

std::string write_q4_k_m_gguf(const test::ScratchDir& dir, const std::string& name, bool tied) {
  nlohmann::json config = test::kquant_config();
  config["tie_word_embeddings"] = tied;
  const std::string hf = dir.path(name);
  test::write_random_model(hf, config, 11);
  std::filesystem::copy_file(test::shared_path("models/stories260K/tokenizer.model"), hf + "/tokenizer.model");
  GgufExportOptions options;
  options.type = parse_gguf_export_type("Q4_K_M", false);
  const std::string gguf = dir.path(name + ".gguf");
  export_gguf(*open_model(hf), gguf, options);
  return gguf;
}

// What LlamaModel computed before it streamed the two ends: each converted whole.
struct WholeMatrixEnds {
  at::Tensor embedding, final_norm, head;
  WholeMatrixEnds(const ModelSource& source, at::ScalarType dtype) {
    const ModelConfig& c = source.config();
    embedding = source.tensor(hf_names::embed).to(dtype);
    final_norm = source.tensor(hf_names::final_norm).to(dtype);
    head = c.tie_word_embeddings || !source.has(hf_names::lm_head) ? embedding : source.tensor(hf_names::lm_head).to(dtype);
  }
};

at::Tensor some_tokens(int64_t vocab) {
  at::manual_seed(5);
  return at::randint(0, vocab, {2, 7}, at::kLong);
}

// Embedding and logits of `source` read by rows and in chunks of `chunk_rows` head rows, and through
// LlamaModel (its own chunks), against the whole-matrix path, bit for bit.
void check_ends_match(const std::shared_ptr<const ModelSource>& source, at::ScalarType dtype, int64_t chunk_rows) {
  const ModelConfig& c = source->config();
  REQUIRE(c.vocab_size % chunk_rows != 0);  // a short last chunk too
  REQUIRE(c.vocab_size / chunk_rows >= 3);
  const WholeMatrixEnds whole(*source, dtype);
  const at::Tensor tokens = some_tokens(c.vocab_size);
  RuntimeOptions options;
  options.dtype = dtype;
  LlamaModel model(source, options);

  const at::Tensor expected_embedded = embed_tokens(c, whole.embedding, tokens);
  const at::Tensor embedded = lookup_embeddings(*source, tokens, dtype, at::kCPU);
  REQUIRE(embedded.scalar_type() == dtype);
  CHECK(at::equal(embedded, expected_embedded));
  CHECK(at::equal(model.embed(tokens), expected_embedded));

  at::manual_seed(6);
  const at::Tensor hidden = at::randn({2, 7, c.hidden_size}).to(dtype);
  const at::Tensor expected = output_logits(c, hidden, whole.final_norm, whole.head);
  const at::Tensor logits = chunked_logits(*source, hidden, whole.final_norm, dtype, chunk_rows);
  REQUIRE(logits.sizes() == expected.sizes());
  const float difference = (logits - expected).abs().max().item<float>();
  const float largest = expected.abs().max().item<float>();
  INFO("max |difference| " << difference << ", max |logit| " << largest);
  // bf16 products are exact per chunk. f32 ones go through OpenBLAS's sgemm, whose blocking depends
  // on the number of head rows in the product, so a chunk's sums may round differently in the last
  // bits (measured: up to 2.3e-5 on logits of this size); bounded at 8 f32 ulps of the largest logit.
  if (dtype == at::kBFloat16) CHECK(at::equal(logits, expected));
  else CHECK(difference <= 8 * std::numeric_limits<float>::epsilon() * largest);
  // LlamaModel's own chunks (16 MiB: the whole head of these small models) give the same logits.
  CHECK(at::equal(model.logits(hidden), expected));
}

}  // namespace

TEST_CASE("the embedding and the LM head of a Q4_K_M GGUF read in chunks give the whole-matrix values",
          "[model_ends]") {
  test::ScratchDir dir;
  for (const bool tied : {false, true}) {
    const std::string gguf = write_q4_k_m_gguf(dir, tied ? "tied" : "untied", tied);
    const auto source = std::make_shared<GgufModelSource>(gguf);
    // The ends are stored quantized, so the chunks really are decoded from blocks.
    const GgufTensorInfo* embd = source->file().find_tensor("token_embd.weight");
    REQUIRE(embd);
    CHECK(embd->type == (tied ? GgmlType::Q6_K : GgmlType::Q4_K));  // tied: the output's type
    REQUIRE(source->config().tie_word_embeddings == tied);
    if (!tied) CHECK(source->file().find_tensor("output.weight")->type == GgmlType::Q6_K);
    for (const at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
      INFO((tied ? "tied" : "untied") << ", " << c10::toString(dtype));
      check_ends_match(source, dtype, 100);
    }
  }
}

TEST_CASE("the embedding and the LM head of bf16 shards read in chunks give the whole-matrix values", "[model_ends]") {
  const auto source = open_model(test::shared_path("models/tinymix-10M"));
  REQUIRE(source->tensor(hf_names::embed).scalar_type() == at::kBFloat16);  // stored bf16, mapped
  for (const at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    INFO(c10::toString(dtype));
    check_ends_match(source, dtype, 300);
  }
}

TEST_CASE("GGUF tensors decode to bf16 and by rows as f32 decoding cast and indexed", "[model_ends]") {
  test::ScratchDir dir;
  const GgufModelSource source(write_q4_k_m_gguf(dir, "m", false));
  const GgufFile& file = source.file();
  int checked = 0;
  for (const GgufTensorInfo& info : file.tensors()) {
    if (info.dims.size() != 2) continue;
    INFO(info.name << " " << ggml_type_name(info.type));
    const at::Tensor f32 = file.tensor(info);
    CHECK(at::equal(gguf_decode(file, info, at::kBFloat16), f32.to(at::kBFloat16)));
    const at::Tensor rows = at::tensor(std::vector<int64_t>{3, 0, f32.size(0) - 1, 3});
    CHECK(at::equal(gguf_decode_rows(file, info, rows, at::kFloat), f32.index_select(0, rows)));
    CHECK(at::equal(gguf_decode_rows(file, info, rows, at::kBFloat16), f32.index_select(0, rows).to(at::kBFloat16)));
    ++checked;
  }
  CHECK(checked >= 9);  // the embedding, the head and a layer's seven linears, of several ggml types
  // Through the model source: q/k rows permuted back to HF's order, norms, every layer tensor.
  const ModelConfig& c = source.config();
  for (const LayerTensor& t : architecture_of(c).layer_tensors(c)) {
    const std::string name = hf_names::layer(1, t.hf);
    INFO(name);
    CHECK(at::equal(source.tensor_as(name, at::kBFloat16), source.tensor(name).to(at::kBFloat16)));
    CHECK(at::equal(source.tensor_as(name, at::kFloat), source.tensor(name)));
  }
}
