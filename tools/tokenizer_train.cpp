// modelpress tokenizer-train --text FILE --vocab-size N --out DIR: a Llama-style SentencePiece
// tokenizer trained from scratch, for models trained from scratch.
#include <iostream>

#include "lib/pipeline/recipe_paths.h"
#include "lib/tokenizer/tokenizer_train.h"
#include "tools/common.h"
#include "tools/tools.h"

namespace mp::tools {

void add_tokenizer_train(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenizer-train",
                                 "Train a Llama-style SentencePiece tokenizer (tokenizer.model) on a text file");
  auto o = std::make_shared<TokenizerTrainOptions>();
  cmd->add_option("--text", o->text, "training text, one sentence or paragraph per line")->required();
  cmd->add_option("--vocab-size", o->vocab_size, "pieces, including 256 byte pieces and <unk> <s> </s>")
      ->capture_default_str();
  cmd->add_option("--out", o->out, "output directory: tokenizer.model, tokenizer_config.json")
      ->type_name(kWrittenPathType)
      ->required();
  cmd->add_option("--model-type", o->model_type, "bpe (as Llama) or unigram")->capture_default_str();
  cmd->add_option("--seed", o->seed, "SentencePiece's random seed")->capture_default_str();
  cmd->callback([o] {
    record_inputs({{"text", o->text}}, o->seed);
    const TokenizerTrainReport r = train_tokenizer(*o);
    std::cout << o->out << ": " << r.vocab_size << " pieces; the training text is " << r.text_tokens
              << " tokens (" << static_cast<double>(r.text_bytes) / static_cast<double>(r.text_tokens)
              << " bytes/token)\n";
  });
}

}  // namespace mp::tools
