// modelpress tokenize --tokenizer DIR_OR_FILE --out FILE.h5 INPUT.txt...: text to a token dataset;
// with --ids, the ids of each paragraph of one text printed as llama.cpp's vocab test vectors are.
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "distill/tokenize_corpus.h"
#include "lib/pipeline/recipe_paths.h"
#include "lib/runtime/runtime.h"
#include "lib/tokenizer/parallel_encode.h"
#include "tools/common.h"
#include "tools/tools.h"

namespace mp::tools {

namespace {

struct TokenizeArgs {
  std::string tokenizer, out, ids;
  std::vector<std::string> inputs;
  bool json = false, bos = false;
  int threads = 0;
};

// One line of space-separated ids per paragraph (paragraphs are separated by blank lines).
void print_ids(const TokenizeArgs& a) {
  const Tokenizer tokenizer = Tokenizer::open(a.tokenizer);
  std::istringstream text(read_text_file(a.ids));
  std::vector<std::string> paragraphs;
  for_each_document(text, [&](const std::string& p) { paragraphs.push_back(p); });
  for (const auto& ids : parallel_encode(tokenizer, paragraphs, /*add_special=*/false, a.threads)) {
    std::string line;
    if (a.bos && tokenizer.bos_id() >= 0) line = std::to_string(tokenizer.bos_id());
    for (int32_t id : ids) line += (line.empty() ? "" : " ") + std::to_string(id);
    std::cout << line << "\n";
  }
}

void write_dataset(const TokenizeArgs& a) {
  if (a.out.empty() || a.inputs.empty()) throw CLI::RequiredError("--out and input files (or --ids TEXT)");
  record_inputs({{"tokenizer", a.tokenizer}});
  for (size_t i = 0; i < a.inputs.size(); ++i) record_inputs({{"text." + std::to_string(i), a.inputs[i]}});
  const TokenizeSummary summary = tokenize_corpus(a.tokenizer, a.inputs, a.out, a.threads);
  if (a.json)
    std::cout << nlohmann::ordered_json{{"out", a.out}, {"documents", summary.documents}, {"tokens", summary.tokens}}.dump(2)
              << "\n";
  else
    std::cout << a.out << ": " << summary.documents << " documents, " << summary.tokens << " tokens\n";
}

}  // namespace

void add_tokenize(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "tokenize", "Tokenize text files (documents separated by blank lines) into an HDF5 dataset, or print ids (--ids)");
  auto a = std::make_shared<TokenizeArgs>();
  cmd->add_option("--tokenizer", a->tokenizer,
                  "model directory (tokenizer.json wins over tokenizer.model) or tokenizer file")->required();
  cmd->add_option("--out", a->out, "output .h5 file (written atomically)")->type_name(kWrittenPathType);
  cmd->add_option("--ids", a->ids, "print the ids of each paragraph of this text, one line each ('-': standard input)");
  cmd->add_flag("--bos", a->bos, "with --ids: start each line with BOS");
  cmd->add_option("--threads,-t", a->threads, "threads (0: one per core; the output does not depend on it)")
      ->capture_default_str();
  cmd->add_option("inputs", a->inputs, "text files ('-': standard input)");
  cmd->add_flag("--json", a->json, "print the counts as JSON");
  cmd->callback([a] { a->ids.empty() ? write_dataset(*a) : print_ids(*a); });
}

}  // namespace mp::tools
