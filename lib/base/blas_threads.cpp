#include "lib/base/blas_threads.h"

#include <dlfcn.h>

namespace mp {
namespace {

using GetThreads = int (*)();
using SetThreads = void (*)(int);

// Looked up in the running process rather than linked: the BLAS is whatever LibTorch was built with.
struct OpenBlas {
  GetThreads get = reinterpret_cast<GetThreads>(::dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  SetThreads set = reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
};

const OpenBlas& openblas() {
  static const OpenBlas functions;
  return functions;
}

}  // namespace

SingleThreadedBlas::SingleThreadedBlas() {
  const OpenBlas& blas = openblas();
  if (!blas.get || !blas.set) return;
  const int threads = blas.get();
  if (threads <= 1) return;
  previous_ = threads;
  blas.set(1);
}

SingleThreadedBlas::~SingleThreadedBlas() {
  if (previous_ > 0) openblas().set(previous_);
}

}  // namespace mp
