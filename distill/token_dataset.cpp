#include "distill/token_dataset.h"

#include <algorithm>

#include "lib/base/error.h"
#include "lib/pipeline/provenance.h"

namespace mp {

namespace {
// 32768 tokens (128 KiB) per chunk: a random window touches one or two chunks, and deflate still
// sees enough data to compress well.
constexpr int64_t kTokenChunk = 32768;
constexpr int64_t kOffsetChunk = 4096;
}  // namespace

TokenDatasetWriter::TokenDatasetWriter(const std::string& path, std::string tokenizer_sha256)
    : output_(path),
      file_(h5::File::create(output_.temp_path())),
      tokens_(h5::Dataset::create(file_, "tokens", H5T_STD_I32LE, 0, kTokenChunk)),
      offsets_(h5::Dataset::create(file_, "doc_offsets", H5T_STD_I64LE, 0, kOffsetChunk)),
      tokenizer_sha256_(std::move(tokenizer_sha256)),
      offset_buffer_{0} {}

void TokenDatasetWriter::add_document(const std::vector<int32_t>& tokens) {
  token_buffer_.insert(token_buffer_.end(), tokens.begin(), tokens.end());
  tokens_hash_.update(tokens.data(), tokens.size() * sizeof(int32_t));
  n_tokens_ += static_cast<int64_t>(tokens.size());
  offset_buffer_.push_back(n_tokens_);
  if (static_cast<int64_t>(token_buffer_.size()) >= 16 * kTokenChunk) flush_buffers();
}

void TokenDatasetWriter::flush_buffers() {
  tokens_.append(H5T_NATIVE_INT32, token_buffer_.data(), static_cast<int64_t>(token_buffer_.size()));
  offsets_.append(H5T_NATIVE_INT64, offset_buffer_.data(),
                  static_cast<int64_t>(offset_buffer_.size()));
  token_buffer_.clear();
  offset_buffer_.clear();
}

void TokenDatasetWriter::commit() {
  flush_buffers();
  std::vector<std::string> files, hashes;
  for (const auto& s : sources_) {
    files.push_back(s.file);
    hashes.push_back(s.sha256);
  }
  file_.set_attribute("tokenizer_sha256", tokenizer_sha256_);
  file_.set_attribute("tokens_sha256", tokens_hash_.hex_digest());
  file_.set_attribute("source_files", files);
  file_.set_attribute("source_sha256", hashes);
  h5::set_provenance_attributes(file_);
  tokens_.close();
  offsets_.close();
  file_.close();
  output_.commit();
  write_file_manifest(output_.path());
}

TokenDataset::TokenDataset(const std::string& path)
    : file_(path),
      tokens_(file_.open_dataset("tokens", h5::Element::int32)),
      n_tokens_(tokens_.rows) {
  if (tokens_.row_width != 0) fail_input(path, "dataset 'tokens' is not 1-D");
  const h5::RemoteDataset offsets = file_.open_dataset("doc_offsets", h5::Element::int64);
  if (offsets.row_width != 0) fail_input(path, "dataset 'doc_offsets' is not 1-D");
  doc_offsets_.resize(static_cast<size_t>(offsets.rows));
  file_.read(offsets, 0, offsets.rows, doc_offsets_.data());
  if (doc_offsets_.empty() || doc_offsets_.front() != 0 || doc_offsets_.back() != n_tokens_)
    fail_input(path, "doc_offsets do not span the tokens");
  if (!std::is_sorted(doc_offsets_.begin(), doc_offsets_.end()))
    fail_input(path, "doc_offsets decrease: documents must follow each other");
  tokenizer_sha256_ = file_.string_attribute("tokenizer_sha256");
  tokens_sha256_ = file_.string_attribute("tokens_sha256");
  check_tokens();
  auto files = file_.string_list_attribute("source_files");
  auto hashes = file_.string_list_attribute("source_sha256");
  if (files.size() != hashes.size()) fail_input(path, "source_files and source_sha256 differ in length");
  for (size_t i = 0; i < files.size(); ++i) sources_.push_back({files[i], hashes[i]});
}

// One pass over the tokens: they must be the ones tokens_sha256 names (teacher caches and resumed
// runs trust it) and valid ids (negative ids would index before an embedding table).
void TokenDataset::check_tokens() {
  Sha256 hash;
  constexpr int64_t kPass = int64_t{1} << 20;
  for (int64_t start = 0; start < n_tokens_; start += kPass) {
    const std::vector<int32_t> tokens = read(start, std::min(kPass, n_tokens_ - start));
    hash.update(tokens.data(), tokens.size() * sizeof(int32_t));
    const auto [low, high] = std::minmax_element(tokens.begin(), tokens.end());
    if (*low < 0) fail_input(path(), "tokens: id " + std::to_string(*low) + " is negative");
    max_token_ = std::max(max_token_, *high);
  }
  if (hash.hex_digest() != tokens_sha256_)
    fail_input(path(), "tokens_sha256 does not match the tokens: the file was altered or damaged");
}

void TokenDataset::check_vocabulary(int64_t vocab_size, const std::string& model) const {
  if (max_token_ >= vocab_size)
    fail_input(path(), "tokens: id " + std::to_string(max_token_) + " is outside the vocabulary of " + model + " (" +
                           std::to_string(vocab_size) + " tokens)");
}

std::vector<int32_t> TokenDataset::read(int64_t start, int64_t count) const {
  std::vector<int32_t> out(static_cast<size_t>(count));
  file_.read(tokens_, start, count, out.data());
  return out;
}

std::vector<int32_t> TokenDataset::document(int64_t index) const {
  if (index < 0 || index >= n_documents())
    fail_input(path(), "no document " + std::to_string(index));
  const auto i = static_cast<size_t>(index);
  return read(doc_offsets_[i], doc_offsets_[i + 1] - doc_offsets_[i]);
}

RandomWindows::RandomWindows(const TokenDataset& dataset, int64_t length, uint64_t seed)
    : dataset_(dataset), length_(length), rng_(seed) {
  if (length <= 0 || length > dataset.n_tokens())
    fail_input(dataset.path(), "cannot take windows of " + std::to_string(length) + " tokens from " +
                                   std::to_string(dataset.n_tokens()));
}

TokenWindow RandomWindows::next() {
  const auto starts = static_cast<uint64_t>(dataset_.n_tokens() - length_ + 1);
  const auto start = static_cast<int64_t>(rng_() % starts);
  return {start, dataset_.read(start, length_)};
}

SequentialWindows::SequentialWindows(const TokenDataset& dataset, int64_t length)
    : dataset_(dataset), length_(length) {
  if (length <= 0) fail_input(dataset.path(), "window length must be positive");
}

bool SequentialWindows::next(TokenWindow& window) {
  if (position_ >= dataset_.n_tokens()) return false;
  const int64_t count = std::min(length_, dataset_.n_tokens() - position_);
  window = {position_, dataset_.read(position_, count)};
  position_ += count;
  return true;
}

}  // namespace mp
