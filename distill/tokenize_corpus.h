// Text files to a token dataset (distill/token_dataset.h), the engine of `modelpress tokenize`.
//
// A document is a run of non-blank lines; blank (empty or whitespace-only) lines separate
// documents. A document's lines are joined with "\n" (no trailing newline, "\r" dropped) and
// tokenized with the special tokens the tokenizer adds (BOS for Llama's SentencePiece models, as
// llama2.c tokenizes TinyStories and llama.cpp starts every evaluation chunk; nothing for Qwen).
// A ".jsonl" input is teacher data (formats/generation_record.h): each line is one document, its
// prompt followed by its completion, the text the teacher continued and not only its own part.
#pragma once
#include <cstdint>
#include <functional>
#include <istream>
#include <string>
#include <vector>

#include "lib/tokenizer/tokenizer.h"

namespace mp {

// Calls on_document(text) for each document of the stream, in order.
void for_each_document(std::istream& in, const std::function<void(const std::string&)>& on_document);

struct TokenizeSummary {
  int64_t documents = 0;
  int64_t tokens = 0;
};

// tokenizer_path: a model directory or tokenizer file (Tokenizer::open). An input "-" is standard
// input, recorded as source "-" with the SHA-256 of what was read. threads <= 0: one per core; the
// output is the same for any thread count.
TokenizeSummary tokenize_corpus(const std::string& tokenizer_path, const std::vector<std::string>& inputs,
                                const std::string& out_path, int threads);

}  // namespace mp
