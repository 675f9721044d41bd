// Idle threads that sleep rather than spin, unless the user chose otherwise.
//
// Two thread pools run LibTorch's work: libgomp's (its parallel loops) and OpenBLAS's (matrix
// products). Both let an idle worker spin for a while before it sleeps, and on a machine whose
// cores are shared the spinning takes CPU from the threads doing the work: an eval took 12 s
// instead of 3.3 s on a busy 2-core machine with libgomp's default, and OpenBLAS's workers, which
// spin about 0.1 s after every product, took a quarter of GPTQ's solve while its per-column steps
// ran on libgomp's threads. Both libraries read their variable once, when they are loaded, before
// main; setting it at the start of main is too late. So `modelpress` is a launcher that links
// neither (tools/launcher/): it sets the variables and runs the engine, which loads them. Other
// executables that link LibTorch (the benches) run themselves again instead, at the cost of a
// second start of LibTorch (0.7-1 s here).
// (Setting them from the executable's .preinit_array, which runs before the libraries'
// constructors, was tried: libgomp then reported PASSIVE, but the solve spun as before.)
#pragma once

namespace mp {

// Sets OMP_WAIT_POLICY=PASSIVE and OPENBLAS_THREAD_TIMEOUT=4 (OpenBLAS's shortest spin, 2⁴ cycles)
// where unset. True if it set either.
bool set_passive_thread_waits();

// If set_passive_thread_waits() changed the environment, replaces the process with a fresh run of
// the same executable and arguments, so it never returns. Otherwise (both set by the user, or by
// the launcher or the first run) returns at once. If the executable cannot be run again, returns
// and the defaults apply.
void rerun_with_passive_thread_waits(char** argv);

}  // namespace mp
