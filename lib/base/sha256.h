// SHA-256 (FIPS 180-4) for provenance: the hashes of tokenizers, corpora and models that datasets and
// caches record, so a later run can tell whether its inputs are the ones a file was made from.
#pragma once
#include <cstddef>
#include <memory>
#include <string>

namespace mp {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, size_t bytes);
  void update(const std::string& bytes) { update(bytes.data(), bytes.size()); }
  // 64 lowercase hex digits. Ends the computation: call once.
  std::string hex_digest();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string sha256_hex(const std::string& bytes);
// Streams the file; fails with a bad-input error when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace mp
