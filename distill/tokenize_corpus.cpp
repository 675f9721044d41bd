#include "distill/tokenize_corpus.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "distill/token_dataset.h"
#include "formats/generation_record.h"
#include "formats/jsonl_file.h"
#include "lib/base/error.h"
#include "lib/runtime/runtime.h"
#include "lib/base/sha256.h"
#include "lib/tokenizer/parallel_encode.h"

namespace mp {

namespace fs = std::filesystem;

namespace {
bool is_blank(const std::string& line) {
  return line.find_first_not_of(" \t\r\f\v") == std::string::npos;
}
}  // namespace

void for_each_document(std::istream& in,
                       const std::function<void(const std::string&)>& on_document) {
  std::string line, document;
  bool open = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (is_blank(line)) {
      if (open) on_document(document);
      document.clear();
      open = false;
      continue;
    }
    if (open) document += '\n';
    document += line;
    open = true;
  }
  if (open) on_document(document);
}

TokenizeSummary tokenize_corpus(const std::string& tokenizer_path, const std::vector<std::string>& inputs,
                                const std::string& out_path, int threads) {
  const Tokenizer tokenizer = Tokenizer::open(tokenizer_path);
  TokenDatasetWriter writer(out_path, sha256_file(tokenizer.origin()));
  TokenizeSummary summary;
  // Documents are encoded a batch at a time on every thread and written in their order.
  std::vector<std::string> batch;
  size_t batch_bytes = 0;
  auto flush = [&] {
    for (const auto& ids : parallel_encode(tokenizer, batch, /*add_special=*/true, threads)) writer.add_document(ids);
    summary.documents += static_cast<int64_t>(batch.size());
    batch.clear();
    batch_bytes = 0;
  };
  auto add_document = [&](const std::string& text) {
    batch.push_back(text);
    batch_bytes += text.size();
    if (batch_bytes >= (16 << 20)) flush();
  };
  auto add_documents = [&](std::istream& in) {
    for_each_document(in, add_document);
    flush();
  };
  for (const auto& input : inputs) {
    if (fs::path(input).extension() == ".jsonl") {  // teacher data: one prompt + completion per line
      writer.add_source({input, sha256_file(input)});
      for_each_jsonl_object(input, [&](const nlohmann::json& object, const std::string& where) {
        const GenerationRecord record = parse_generation_record(object, where);
        add_document(record.prompt + record.completion);
      });
      flush();
      continue;
    }
    if (input == "-") {  // a pipe can be read once: hash what was read, then tokenize it
      std::istringstream in(read_text_file("-"));
      writer.add_source({input, sha256_hex(in.str())});
      add_documents(in);
      continue;
    }
    writer.add_source({input, sha256_file(input)});
    std::ifstream in(input, std::ios::binary);
    if (!in) fail_input(input, std::string("cannot open: ") + std::strerror(errno));
    add_documents(in);
    if (in.bad()) fail_input(input, "read failed");
  }
  summary.tokens = writer.tokens_written();
  writer.commit();
  return summary;
}

}  // namespace mp
