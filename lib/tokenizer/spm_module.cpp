#include "lib/tokenizer/spm_module.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>

#include "lib/base/error.h"
#include "lib/base/sanitizers.h"
#include "lib/runtime/installed_file.h"

namespace mp {

namespace {

std::string shim_path() {
  if (const char* env = std::getenv("MODELPRESS_SPM_SHIM")) return env;
  return installed_file("libmodelpress_spm.so").string();
}

template <typename Fn>
void resolve(void* lib, const char* name, Fn& fn, const std::string& path) {
  fn = reinterpret_cast<Fn>(::dlsym(lib, name));
  if (!fn) fail_runtime(path + ": missing symbol " + name);
}

// SentencePiece's calls into its bundled protobuf must not resolve to LibTorch's. RTLD_DEEPBIND
// ensures that; the sanitizer runtime refuses DEEPBIND, so a sanitizer build (MODELPRESS_SANITIZE)
// loads the shim, built without sanitizers, into a link namespace of its own: it gets its own copies
// of libstdc++ and protobuf, an isolation at least as strict. Only plain C values cross the table.
void* load_shim(const std::string& path) {
#ifdef MODELPRESS_ASAN
  return ::dlmopen(LM_ID_NEWLM, path.c_str(), RTLD_NOW | RTLD_LOCAL);
#else
  return ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
#endif
}

}  // namespace

const SpmModule& spm_module() {
  static SpmModule table;
  static std::once_flag once;
  std::call_once(once, [] {
    std::string path = shim_path();
    void* lib = load_shim(path);
    if (!lib) fail_runtime(std::string("cannot load the tokenizer module: ") + ::dlerror());
    resolve(lib, "mpspm_load_file", table.load_file, path);
    resolve(lib, "mpspm_load_proto", table.load_proto, path);
    resolve(lib, "mpspm_free", table.free, path);
    resolve(lib, "mpspm_encode", table.encode, path);
    resolve(lib, "mpspm_decode", table.decode, path);
    resolve(lib, "mpspm_serialize", table.serialize, path);
    resolve(lib, "mpspm_vocab_size", table.vocab_size, path);
    resolve(lib, "mpspm_piece", table.piece, path);
    resolve(lib, "mpspm_score", table.score, path);
    resolve(lib, "mpspm_type", table.type, path);
    resolve(lib, "mpspm_special_id", table.special_id, path);
    resolve(lib, "mpspm_train", table.train, path);
  });
  return table;
}

}  // namespace mp
