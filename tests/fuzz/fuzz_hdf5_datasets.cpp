// An HDF5 file opened as a token dataset and as a teacher cache; whatever opens is read through.
#include "distill/teacher_cache.h"
#include "distill/token_dataset.h"
#include "tests/fuzz/fuzz_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = mp::fuzz::write_scratch("data.h5", data, size);
  mp::fuzz::run([&] {
    const mp::TokenDataset dataset(path);
    for (int64_t d = 0; d < std::min<int64_t>(dataset.n_documents(), 16); ++d) (void)dataset.document(d);
    dataset.check_vocabulary(512, "model");
  });
  return mp::fuzz::run([&] {
    const mp::TeacherCacheReader cache(mp::fuzz::write_scratch("cache.h5", data, size));
    (void)cache.read(0, std::min<int64_t>(cache.n_tokens(), 64));
  });
}
