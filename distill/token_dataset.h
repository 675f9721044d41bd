// Token datasets: a corpus tokenized once into an HDF5 file that training and evaluation read.
//
// Layout (docs/distillation-data.md):
//   tokens       int32 [n_tokens]         every document's ids back to back, chunked + deflated
//   doc_offsets  int64 [n_documents + 1]  document d is tokens[doc_offsets[d], doc_offsets[d+1])
//   attributes   tokenizer_sha256, tokens_sha256 (of the int32 little-endian ids),
//                source_files, source_sha256 (one entry per input file), modelpress.* (provenance)
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "formats/hdf5_file.h"
#include "formats/hdf5_isolated_reader.h"
#include "lib/base/atomic_output.h"
#include "lib/base/sha256.h"

namespace mp {

struct TokenSource {
  std::string file;    // as given on the command line
  std::string sha256;  // of the file's bytes
};

// Streams documents into a new file; nothing appears at `path` until commit().
class TokenDatasetWriter {
 public:
  TokenDatasetWriter(const std::string& path, std::string tokenizer_sha256);
  void add_source(TokenSource source) { sources_.push_back(std::move(source)); }
  void add_document(const std::vector<int32_t>& tokens);
  int64_t tokens_written() const { return n_tokens_; }
  void commit();

 private:
  void flush_buffers();
  AtomicPath output_;
  h5::File file_;
  h5::Dataset tokens_, offsets_;
  std::string tokenizer_sha256_;
  std::vector<TokenSource> sources_;
  Sha256 tokens_hash_;
  std::vector<int32_t> token_buffer_;
  std::vector<int64_t> offset_buffer_;
  int64_t n_tokens_ = 0;
};

class TokenDataset {
 public:
  // A missing file, a file without `tokens`/`doc_offsets`, or wrong dtypes: bad input. The file is
  // read by an h5::IsolatedReader: it may come from anywhere.
  explicit TokenDataset(const std::string& path);

  int64_t n_tokens() const { return n_tokens_; }
  int64_t n_documents() const { return static_cast<int64_t>(doc_offsets_.size()) - 1; }
  const std::vector<int64_t>& doc_offsets() const { return doc_offsets_; }
  const std::string& tokenizer_sha256() const { return tokenizer_sha256_; }
  // Identifies the token content; teacher caches record it to know what they were computed on.
  const std::string& tokens_sha256() const { return tokens_sha256_; }
  const std::vector<TokenSource>& sources() const { return sources_; }
  const std::string& path() const { return file_.path(); }

  std::vector<int32_t> read(int64_t start, int64_t count) const;
  std::vector<int32_t> document(int64_t index) const;
  // Bad input naming the file unless every token id is below `vocab_size` (of `model`).
  void check_vocabulary(int64_t vocab_size, const std::string& model) const;

 private:
  void check_tokens();
  h5::IsolatedReader file_;
  h5::RemoteDataset tokens_;
  int64_t n_tokens_;
  std::vector<int64_t> doc_offsets_;
  std::string tokenizer_sha256_, tokens_sha256_;
  std::vector<TokenSource> sources_;
  int32_t max_token_ = 0;
};

struct TokenWindow {
  int64_t start;
  std::vector<int32_t> tokens;  // tokens[start, start + length)
};

// Windows at uniformly random starts, reproducible from the seed on every platform: the start is
// the mt19937_64 output modulo the number of starts (the bias is below 2^-40 for any real corpus).
class RandomWindows {
 public:
  RandomWindows(const TokenDataset& dataset, int64_t length, uint64_t seed);
  TokenWindow next();

 private:
  const TokenDataset& dataset_;
  int64_t length_;
  std::mt19937_64 rng_;
};

// Consecutive windows from the start of the dataset; the last one may be shorter.
class SequentialWindows {
 public:
  SequentialWindows(const TokenDataset& dataset, int64_t length);
  bool next(TokenWindow& window);  // false once the dataset is exhausted

 private:
  const TokenDataset& dataset_;
  int64_t length_;
  int64_t position_ = 0;
};

}  // namespace mp
