#include "lib/tokenizer/tokenizer_train.h"

#include <filesystem>

#include "lib/base/atomic_output.h"
#include "lib/base/error.h"
#include "lib/pipeline/provenance.h"
#include "lib/runtime/runtime.h"
#include "lib/tokenizer/spm_module.h"
#include "lib/tokenizer/tokenizer.h"

namespace mp {

namespace {

// 256 byte pieces and <unk>, <s>, </s>: the smallest vocabulary byte fallback allows.
constexpr int64_t kMinVocab = 259;

// SentencePiece trainer flags, as the Llama 2 and llama2.c tokenizers were trained.
std::string trainer_flags(const TokenizerTrainOptions& o) {
  return "model_type=" + o.model_type + "\nvocab_size=" + std::to_string(o.vocab_size) +
         "\nbyte_fallback=true\nsplit_digits=true\nallow_whitespace_only_pieces=true"
         "\ncharacter_coverage=1.0\nnormalization_rule_name=identity\nremove_extra_whitespaces=false"
         "\nadd_dummy_prefix=true\nunk_id=0\nbos_id=1\neos_id=2\npad_id=-1"
         // Long lines (a whole speech or paragraph) are kept rather than silently skipped.
         "\nmax_sentence_length=1048576"
         // One thread: the trainer's parallel reductions are the only source of nondeterminism.
         "\nnum_threads=1\nself_test_sample_size=0\nminloglevel=1";
}

const char* kTokenizerConfig = R"({
  "tokenizer_class": "LlamaTokenizer",
  "add_bos_token": true,
  "add_eos_token": false,
  "bos_token": "<s>",
  "eos_token": "</s>",
  "unk_token": "<unk>"
}
)";

}  // namespace

TokenizerTrainReport train_tokenizer(const TokenizerTrainOptions& o) {
  if (o.model_type != "bpe" && o.model_type != "unigram")
    fail_input("--model-type", "use bpe or unigram, not '" + o.model_type + "'");
  if (o.vocab_size <= kMinVocab)
    fail_input("--vocab-size", "must exceed " + std::to_string(kMinVocab) +
                                   " (256 byte pieces and 3 special pieces), not " + std::to_string(o.vocab_size));
  const std::string text = read_text_file(o.text);
  if (text.empty()) fail_input(o.text, "empty text");

  AtomicDirectory out(o.out);
  const std::string model_path = out.file("tokenizer.model");
  char err[1024] = {0};
  if (spm_module().train(o.text.c_str(), trainer_flags(o).c_str(), o.seed, model_path.c_str(), err, sizeof(err)) != 0)
    fail_input(o.text, std::string("SentencePiece training failed: ") + err);
  write_file_atomically(out.file("tokenizer_config.json"), kTokenizerConfig);

  const Tokenizer tokenizer = Tokenizer::from_file(model_path);
  TokenizerTrainReport report;
  report.vocab_size = tokenizer.vocab_size();
  if (report.vocab_size != o.vocab_size)
    fail_runtime("SentencePiece made " + std::to_string(report.vocab_size) + " pieces, not " +
                 std::to_string(o.vocab_size));
  report.text_bytes = static_cast<int64_t>(text.size());
  report.text_tokens = static_cast<int64_t>(tokenizer.encode(text, /*add_special=*/false).size());
  write_directory_manifest(out.staging());
  out.commit();
  return report;
}

}  // namespace mp
