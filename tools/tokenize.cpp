// modelpress tokenize --tokenizer MODEL.model --out FILE.h5 INPUT.txt...: text to a token dataset.
#include <iostream>
#include <nlohmann/json.hpp>

#include "distill/tokenize_corpus.h"
#include "tools/common.h"
#include "tools/tools.h"

namespace mp::tools {

void add_tokenize(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "tokenize", "Tokenize text files (documents separated by blank lines) into an HDF5 dataset");
  auto tokenizer = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto inputs = std::make_shared<std::vector<std::string>>();
  auto json = std::make_shared<bool>(false);
  cmd->add_option("--tokenizer", *tokenizer, "SentencePiece tokenizer.model")->required();
  cmd->add_option("--out", *out, "output .h5 file (written atomically)")->required();
  cmd->add_option("inputs", *inputs, "text files ('-': standard input)")->required();
  cmd->add_flag("--json", *json, "print the counts as JSON");
  cmd->callback([=] {
    record_inputs({{"tokenizer", *tokenizer}});
    for (size_t i = 0; i < inputs->size(); ++i) record_inputs({{"text." + std::to_string(i), (*inputs)[i]}});
    const TokenizeSummary summary = tokenize_corpus(*tokenizer, *inputs, *out);
    if (*json)
      std::cout << nlohmann::ordered_json{{"out", *out}, {"documents", summary.documents}, {"tokens", summary.tokens}}.dump(2)
                << "\n";
    else
      std::cout << *out << ": " << summary.documents << " documents, " << summary.tokens << " tokens\n";
  });
}

}  // namespace mp::tools
