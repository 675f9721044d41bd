// GGUF vocabularies both ways. Import: llama.cpp's own vocab-only GGUFs (gpt-2: byte-level BPE,
// phi-3: SentencePiece-style) read by gguf_tokenizer reproduce every line of their test vectors.
// Export: real tokenizer.json files get the converter's tokenizer.ggml.pre, token types, merges,
// special ids and chat template, and the exported GGUF reads back to a tokenizer that encodes like the
// tokenizer.json (llama.cpp's llama-bpe and qwen2 vectors included).
#include <filesystem>
#include <fstream>

#include "formats/gguf_file.h"
#include "formats/gguf_vocab_export.h"
#include "formats/hf_config.h"
#include "lib/base/atomic_output.h"
#include "lib/runtime/gguf_model_source.h"
#include "lib/runtime/gguf_tokenizer.h"
#include "tests/tokenizer_files.h"
#include "tests/tokenizer_models.h"

using namespace mp;

namespace {

// Our tokenization of llama.cpp's vocab test inputs against its expected ids (no BOS).
size_t mismatches(const Tokenizer& tok, const std::string& vocab) {
  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> expected;
  for (const auto& [text, ids] : test::vocab_vectors(vocab)) texts.push_back(text), expected.push_back(ids);
  CHECK(texts.size() == 46);
  return test::differing_texts(texts, expected, test::encode_all(tok, texts, false));
}

// The exported file's tokenizer against llama.cpp's vectors for `vocab` and against the model's tokenizer.json.
void check_reads_back(const std::string& gguf, const std::string& model, const std::string& vocab) {
  const Tokenizer back = GgufModelSource(gguf).tokenizer(), original = Tokenizer::open(model);
  CHECK(mismatches(back, vocab) == 0);
  const std::vector<std::string> texts = test::tokenizer_check_texts();
  CHECK(test::differing_texts(texts, test::encode_all(original, texts, true), test::encode_all(back, texts, true)) == 0);
}

const GgufValue& key(const GgufFile& f, const std::string& name) {
  const GgufValue* v = f.find(name);
  if (!v) FAIL("no key " << name);
  return *v;
}

std::string export_f32(const std::string& model_dir, const std::string& extra = "") {
  const std::string out = model_dir + ".gguf";
  const auto r = test::run_modelpress("export --to gguf --type F32 --model " + model_dir + " -o " + out + extra);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return out;
}

}  // namespace

TEST_CASE("GGUF import: llama.cpp's gpt-2 vocabulary reproduces its test vectors", "[gguf_vocab]") {
  const GgufFile f(test::shared_path("tokenizer-vectors/ggml-vocab-gpt-2.gguf"));
  const Tokenizer tok = gguf_tokenizer(f);
  CHECK(tok.kind() == VocabKind::byte_level_bpe);
  CHECK(tok.vocab_size() == 50257);
  CHECK(tok.merges().size() == 50000);
  CHECK(mismatches(tok, "gpt-2") == 0);
  CHECK_FALSE(tok.adds_bos());  // llama.cpp adds no BOS for "gpt-2"
}

TEST_CASE("GGUF import: llama.cpp's phi-3 vocabulary (SentencePiece-style) reproduces its test vectors", "[gguf_vocab]") {
  const GgufFile f(test::shared_path("tokenizer-vectors/ggml-vocab-phi-3.gguf"));
  const Tokenizer tok = gguf_tokenizer(f);
  CHECK(tok.kind() == VocabKind::sentencepiece);
  CHECK(tok.vocab_size() == 32064);
  CHECK(mismatches(tok, "phi-3") == 0);
}

TEST_CASE("GGUF export: tokenizer.ggml.pre is recognized as llama.cpp's converter recognizes it", "[gguf_vocab]") {
  auto pre_of = [](const Tokenizer& tok) { return gguf_pre_tokenizer(tok, tok.origin(), ""); };
  CHECK(pre_of(Tokenizer::open(test::hf_tokenizer_json("qwen3"))) == "qwen2");
  CHECK(pre_of(Tokenizer::open(test::hf_tokenizer_json("deepseek_v3"))) == "deepseek-v3");  // BOS from add_bos_token
  CHECK(pre_of(Tokenizer::open(test::hf_tokenizer_json("llama3"))) == "smaug-bpe");  // npm copy: no BOS template
  test::ScratchDir dir;
  const std::string meta = test::write_tokenizer_model(dir, "llama3", "llama", 128256, test::add_llama3_bos_template);
  CHECK(pre_of(Tokenizer::open(meta)) == "llama-bpe");
  // GPT-2's own vocabulary, as llama.cpp stores it, hashes to GPT-2's entry.
  const auto [doc, config] = gguf_bpe_tokenizer_json(GgufFile(test::shared_path("tokenizer-vectors/ggml-vocab-gpt-2.gguf")));
  CHECK(pre_of(Tokenizer::from_hf_json(doc, config, "gpt-2")) == "gpt-2");
  // An override must be a name llama.cpp knows.
  CHECK(gguf_pre_tokenizer(Tokenizer::open(meta), meta, "smollm") == "smollm");
  CHECK_THROWS_WITH(gguf_pre_tokenizer(Tokenizer::open(meta), meta, "nonsense"), Catch::Contains("known: llama-bpe"));
}

TEST_CASE("GGUF export: a Llama 3 tokenizer.json becomes a gpt2 vocabulary and reads back identically", "[gguf_vocab]") {
  test::ScratchDir dir;
  const std::string model = test::write_tokenizer_model(dir, "llama3", "llama", 128256, test::add_llama3_bos_template);
  // Llama-3.2-1B-Instruct's generation_config.json: llama.cpp's converter takes its sampling settings.
  write_file_atomically(model + "/generation_config.json",
                        R"({"bos_token_id": 128000, "do_sample": true, "eos_token_id": [128001, 128008, 128009],)"
                        R"( "temperature": 0.6, "top_p": 0.9})");
  const std::string out = export_f32(model);
  const GgufFile f(out);
  CHECK(key(f, "general.sampling.temp").as_float() == 0.6f);
  CHECK(key(f, "general.sampling.top_p").as_float() == 0.9f);
  CHECK(f.find("general.sampling.top_k") == nullptr);
  CHECK(key(f, "tokenizer.ggml.model").as_string() == "gpt2");
  CHECK(key(f, "tokenizer.ggml.pre").as_string() == "llama-bpe");
  CHECK(key(f, "tokenizer.ggml.tokens").as_array().size() == 128256);
  CHECK(key(f, "tokenizer.ggml.tokens").as_array()[128000].as_string() == "<|begin_of_text|>");
  const auto& types = key(f, "tokenizer.ggml.token_type").as_array();
  CHECK(types[300].as_int() == 1);     // normal
  CHECK(types[128000].as_int() == 3);  // control: an added special token
  CHECK(types[128255].as_int() == 3);
  CHECK(key(f, "tokenizer.ggml.merges").as_array().size() == 280147);
  CHECK(f.find("tokenizer.ggml.scores") == nullptr);
  CHECK(key(f, "tokenizer.ggml.bos_token_id").as_uint() == 128000);
  CHECK(key(f, "tokenizer.ggml.eos_token_id").as_uint() == 128001);
  CHECK(key(f, "tokenizer.ggml.add_bos_token").as_bool());
  const nlohmann::json config = read_json_file(model + "/tokenizer_config.json");
  CHECK(key(f, "tokenizer.chat_template").as_string() == config["chat_template"].get<std::string>());

  check_reads_back(out, model, "llama-bpe");
}

TEST_CASE("GGUF export: a Qwen 3 tokenizer.json on a qwen2 model becomes a gpt2 vocabulary and reads back identically",
          "[gguf_vocab]") {
  test::ScratchDir dir;
  const std::string model = test::write_tokenizer_model(dir, "qwen3", "qwen2", 151936);
  const std::string out = export_f32(model);
  const GgufFile f(out);
  CHECK(key(f, "tokenizer.ggml.pre").as_string() == "qwen2");
  const auto& tokens = key(f, "tokenizer.ggml.tokens").as_array();
  CHECK(tokens.size() == 151936);
  CHECK(tokens[151935].as_string() == "[PAD151935]");  // the converter pads to vocab_size
  CHECK(key(f, "tokenizer.ggml.token_type").as_array()[151935].as_int() == 5);
  CHECK(key(f, "tokenizer.ggml.eos_token_id").as_uint() == 151645);      // <|im_end|>
  CHECK(key(f, "tokenizer.ggml.padding_token_id").as_uint() == 151643);  // <|endoftext|>
  CHECK_FALSE(key(f, "tokenizer.ggml.add_bos_token").as_bool());
  CHECK(f.find("tokenizer.ggml.bos_token_id") == nullptr);  // tokenizer_config.json's bos_token is null
  CHECK(f.find("general.sampling.temp") == nullptr);        // no generation_config.json

  check_reads_back(out, model, "qwen2");
}

TEST_CASE("GGUF export: Mistral's SentencePiece-style tokenizer.json becomes a llama vocabulary as LlamaHfVocab writes it",
          "[gguf_vocab]") {
  test::ScratchDir dir;
  const std::string model = test::write_tokenizer_model(dir, "llama2", "llama", 32000);
  const GgufFile f(export_f32(model));
  CHECK(key(f, "tokenizer.ggml.model").as_string() == "llama");
  CHECK(key(f, "tokenizer.ggml.pre").as_string() == "default");
  const auto& scores = key(f, "tokenizer.ggml.scores").as_array();
  const auto& types = key(f, "tokenizer.ggml.token_type").as_array();
  REQUIRE(scores.size() == 32000);
  for (size_t id : {0, 1, 2, 3, 300, 31999}) CHECK(scores[id].as_float() == -1000.0);
  CHECK(types[0].as_int() == 3);  // <unk>, <s>, </s>: transformers' special tokens are control
  CHECK(types[1].as_int() == 3);
  CHECK(types[3].as_int() == 6);  // <0x00>
  CHECK(types[300].as_int() == 1);
  CHECK(key(f, "tokenizer.ggml.bos_token_id").as_uint() == 1);
  CHECK(key(f, "tokenizer.ggml.add_bos_token").as_bool());
}

TEST_CASE("GGUF export: bad tokenizer files are one line and exit 3, with no output", "[gguf_vocab]") {
  test::ScratchDir dir;
  const std::string model = test::write_tokenizer_model(dir, "llama3", "llama", 128256, test::add_llama3_bos_template);
  const std::string config_path = model + "/tokenizer_config.json";
  const nlohmann::json config = read_json_file(config_path);
  auto export_with = [&](const nlohmann::json& c, const std::string& extra = "") {
    std::ofstream(config_path) << c.dump();
    std::filesystem::remove(model + ".gguf");
    const auto r = test::run_modelpress("export --to gguf --type F32 --model " + model + " -o " + model + ".gguf" + extra);
    if (r.exit_code != 0) CHECK_FALSE(std::filesystem::exists(model + ".gguf"));
    return r;
  };
  auto one_line = [](const test::CommandResult& r) { return std::count(r.err.begin(), r.err.end(), '\n') == 1; };

  nlohmann::json bad = config;
  bad["chat_template"] = 42;
  auto r = export_with(bad);
  CHECK(r.exit_code == 3);
  CHECK(one_line(r));
  CHECK(r.err.find("tokenizer_config.json: chat_template must be a string or a list") != std::string::npos);

  bad = config;
  bad["eos_token"] = "<|no_such_token|>";
  r = export_with(bad);
  CHECK(r.exit_code == 3);
  CHECK(one_line(r));
  CHECK(r.err.find("tokenizer_config.json") != std::string::npos);  // the tokenizer or the export names it
  CHECK(r.err.find("<|no_such_token|>") != std::string::npos);

  // A pre-tokenizer the converter does not know: GPT-2's regex on Llama 3's vocabulary.
  nlohmann::json doc = read_json_file(model + "/tokenizer.json");
  doc["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] =
      R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
  std::ofstream(model + "/tokenizer.json") << doc.dump();
  r = export_with(config);
  CHECK(r.exit_code == 3);
  CHECK(one_line(r));
  CHECK(r.err.find("is not one llama.cpp's converter recognizes") != std::string::npos);
  CHECK(r.err.find("qwen2, ") != std::string::npos);
  CHECK(export_with(config, " --pre gpt-2").exit_code == 0);
  r = export_with(config, " --pre nonsense");
  CHECK(r.exit_code == 3);
  CHECK(one_line(r));
}

TEST_CASE("GGUF export: Q4_K_M of Llama-3- and Qwen-shaped models with only tokenizer.json", "[gguf_vocab]") {
  test::ScratchDir dir;
  for (const auto& [name, type, vocab] : {std::tuple{"llama3", "llama", 128256}, std::tuple{"qwen3", "qwen2", 151936}}) {
    const std::string model = test::write_tokenizer_model(dir, name, type, vocab);
    const auto r = test::run_modelpress("export --to gguf --type Q4_K_M --model " + model + " -o " + model + ".gguf --pre " +
                                        (std::string(type) == "llama" ? "llama-bpe" : "qwen2"));
    INFO(r.err);
    CHECK(r.exit_code == 0);
    const GgufFile f(model + ".gguf");
    CHECK(key(f, "general.file_type").as_uint() == 15);  // LLAMA_FTYPE_MOSTLY_Q4_K_M
    CHECK(key(f, "tokenizer.ggml.model").as_string() == "gpt2");
  }
}
