// The only file that sees SentencePiece. Built as a module, never linked into LibTorch binaries.
#include "lib/tokenizer/spm/spm_shim.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

void set_error(const std::string& message, char* err, size_t err_len) {
  if (!err || !err_len) return;
  std::strncpy(err, message.c_str(), err_len - 1);
  err[err_len - 1] = '\0';
}

void* finish_load(std::unique_ptr<sentencepiece::SentencePieceProcessor> sp,
                  const sentencepiece::util::Status& status, char* err, size_t err_len) {
  if (status.ok()) return sp.release();
  set_error(status.ToString(), err, err_len);
  return nullptr;
}

// SentencePiece's trie builder throws on some malformed models (a zero-length piece: found by
// fuzz_spm_model), and any call can run out of memory; no exception may cross the C API, so each
// call returns `failed` with the message instead.
template <typename Result, typename Call>
Result guarded(Call call, Result failed, const char* what, char* err, size_t err_len) {
  try {
    return call();
  } catch (const std::exception& e) {
    set_error(std::string(what) + ": " + e.what(), err, err_len);
  } catch (...) {
    set_error(what, err, err_len);
  }
  return failed;
}

const sentencepiece::SentencePieceProcessor& processor(void* handle) {
  return *static_cast<sentencepiece::SentencePieceProcessor*>(handle);
}

// The training text, one sentence per line.
class LineIterator : public sentencepiece::SentenceIterator {
 public:
  explicit LineIterator(const char* path) : in_(path, std::ios::binary) {
    if (!in_) status_ = sentencepiece::util::Status(sentencepiece::util::StatusCode::kNotFound,
                                                    std::string(path) + ": cannot open");
    else Next();
  }
  bool done() const override { return done_; }
  void Next() override { done_ = !status_.ok() || !std::getline(in_, line_); }
  const std::string& value() const override { return line_; }
  sentencepiece::util::Status status() const override { return status_; }

 private:
  std::ifstream in_;
  std::string line_;
  bool done_ = true;
  sentencepiece::util::Status status_;
};

size_t copy_out(const std::string& s, char* out, size_t cap) {
  std::memcpy(out, s.data(), std::min(cap, s.size()));
  return s.size();
}

// The trainer behind mpspm_train.
int train(const char* text_path, const char* options, unsigned seed, const char* model_path, char* err,
          size_t err_len) {
  std::unordered_map<std::string, std::string> flags;
  std::istringstream lines(options);
  for (std::string line; std::getline(lines, line);) {
    const size_t eq = line.find('=');
    if (eq == std::string::npos) {
      set_error("trainer option without '=': " + line, err, err_len);
      return -1;
    }
    flags[line.substr(0, eq)] = line.substr(eq + 1);
  }
  sentencepiece::SetRandomGeneratorSeed(seed);
  LineIterator text(text_path);
  std::string model;
  auto status = text.status();
  if (status.ok()) status = sentencepiece::SentencePieceTrainer::Train(flags, &text, &model);
  if (!status.ok()) {
    set_error(status.ToString(), err, err_len);
    return -1;
  }
  std::ofstream out(model_path, std::ios::binary);
  out.write(model.data(), static_cast<std::streamsize>(model.size()));
  out.close();
  if (!out) {
    set_error(std::string("cannot write ") + model_path, err, err_len);
    return -1;
  }
  return 0;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) void* mpspm_load_file(const char* path, char* err,
                                                            size_t err_len) {
  return guarded([&] {
    auto sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
    auto status = sp->Load(path);
    return finish_load(std::move(sp), status, err, err_len);
  }, static_cast<void*>(nullptr), "malformed model", err, err_len);
}

__attribute__((visibility("default"))) void* mpspm_load_proto(const char* bytes, size_t len,
                                                             char* err, size_t err_len) {
  return guarded([&] {
    auto sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
    auto status = sp->LoadFromSerializedProto(absl::string_view(bytes, len));
    return finish_load(std::move(sp), status, err, err_len);
  }, static_cast<void*>(nullptr), "malformed model", err, err_len);
}

__attribute__((visibility("default"))) void mpspm_free(void* handle) {
  delete static_cast<sentencepiece::SentencePieceProcessor*>(handle);
}

__attribute__((visibility("default"))) size_t mpspm_encode(void* handle, const char* text, size_t len,
                                                          int* ids, size_t cap, char* err, size_t err_len) {
  return guarded([&] {
    std::vector<int> out;
    const auto status = processor(handle).Encode(absl::string_view(text, len), &out);
    if (!status.ok()) {
      set_error(status.ToString(), err, err_len);
      return MPSPM_FAILED;
    }
    std::memcpy(ids, out.data(), std::min(cap, out.size()) * sizeof(int));
    return out.size();
  }, MPSPM_FAILED, "encode", err, err_len);
}

__attribute__((visibility("default"))) size_t mpspm_decode(void* handle, const int* ids, size_t n,
                                                          char* out, size_t cap, char* err, size_t err_len) {
  return guarded([&] {
    std::string text;
    const auto status = processor(handle).Decode(std::vector<int>(ids, ids + n), &text);
    if (!status.ok()) {
      set_error(status.ToString(), err, err_len);
      return MPSPM_FAILED;
    }
    return copy_out(text, out, cap);
  }, MPSPM_FAILED, "decode", err, err_len);
}

__attribute__((visibility("default"))) size_t mpspm_serialize(void* handle, char* out, size_t cap) {
  return copy_out(processor(handle).serialized_model_proto(), out, cap);
}

__attribute__((visibility("default"))) int mpspm_vocab_size(void* handle) {
  return processor(handle).GetPieceSize();
}

__attribute__((visibility("default"))) const char* mpspm_piece(void* handle, int id) {
  return processor(handle).IdToPiece(id).c_str();
}

__attribute__((visibility("default"))) float mpspm_score(void* handle, int id) {
  return processor(handle).GetScore(id);
}

__attribute__((visibility("default"))) int mpspm_type(void* handle, int id) {
  const auto& sp = processor(handle);
  if (sp.IsUnknown(id)) return MPSPM_UNKNOWN;
  if (sp.IsControl(id)) return MPSPM_CONTROL;
  if (sp.IsByte(id)) return MPSPM_BYTE;
  if (sp.IsUnused(id)) return MPSPM_UNUSED;
  return MPSPM_NORMAL;
}

__attribute__((visibility("default"))) int mpspm_special_id(void* handle, int which) {
  const auto& sp = processor(handle);
  switch (which) {
    case 0: return sp.bos_id();
    case 1: return sp.eos_id();
    case 2: return sp.unk_id();
    case 3: return sp.pad_id();
    default: return -1;
  }
}

__attribute__((visibility("default"))) int mpspm_train(const char* text_path, const char* options,
                                                       unsigned seed, const char* model_path, char* err,
                                                       size_t err_len) {
  return guarded([&] { return train(text_path, options, seed, model_path, err, err_len); }, -1, "training",
                 err, err_len);
}

}
