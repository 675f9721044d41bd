// OpenBLAS's own thread pool, which at::set_num_threads does not size.
//
// Code that already splits work across LibTorch's threads and calls BLAS from each of them wants
// every call single-threaded: two callers on a 2-core machine each asking OpenBLAS for two threads
// queue behind each other. LibTorch builds with MKL need nothing: MKL runs sequentially inside an
// OpenMP parallel region.
#pragma once

namespace mp {

// OpenBLAS single-threaded for the object's lifetime (when the running process has OpenBLAS;
// otherwise nothing). Only from outside a parallel region: the setting is process-wide.
class SingleThreadedBlas {
 public:
  SingleThreadedBlas();
  ~SingleThreadedBlas();
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  int previous_ = 0;  // 0: nothing to restore
};

}  // namespace mp
