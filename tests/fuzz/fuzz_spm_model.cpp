// A SentencePiece .model (a serialized ModelProto) through the shim's C API, which this target links
// directly: it has no LibTorch, so the protobuf clash the shim is isolated for cannot happen here.
// modelpress parses none of the proto itself; libsentencepiece is not instrumented, so coverage
// guides the mutations through the shim only, but crashes and ASan reports inside it still count.
#include <vector>

#include "lib/tokenizer/spm/spm_shim.h"
#include "tests/fuzz/fuzz_harness.h"

extern "C" {
void* mpspm_load_proto(const char* bytes, size_t len, char* err, size_t err_len);
void mpspm_free(void* handle);
size_t mpspm_encode(void* handle, const char* text, size_t len, int* ids, size_t cap, char* err, size_t err_len);
size_t mpspm_decode(void* handle, const int* ids, size_t n, char* out, size_t cap, char* err, size_t err_len);
int mpspm_vocab_size(void* handle);
const char* mpspm_piece(void* handle, int id);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return mp::fuzz::run([&] {
    char err[256];
    void* sp = mpspm_load_proto(reinterpret_cast<const char*>(data), size, err, sizeof err);
    if (!sp) return;
    const std::string text = "Hello world! 123 caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd";
    std::vector<int> ids(256);
    const size_t n = mpspm_encode(sp, text.data(), text.size(), ids.data(), ids.size(), err, sizeof err);
    ids.resize(n == MPSPM_FAILED ? 0 : std::min(ids.size(), n));
    std::vector<char> out(1024);
    (void)mpspm_decode(sp, ids.data(), ids.size(), out.data(), out.size(), err, sizeof err);
    for (int id = 0; id < std::min(mpspm_vocab_size(sp), 64); ++id) (void)mpspm_piece(sp, id);
    mpspm_free(sp);
  });
}
