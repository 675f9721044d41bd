// OpenMP's wait policy, made passive unless the user chose one.
//
// libgomp (LibTorch's OpenMP) reads OMP_WAIT_POLICY once, in a constructor that runs when the
// library is loaded, before main. Its default lets idle workers spin for a while; on a machine
// whose cores are shared with other processes the spinning workers take CPU from the one thread
// doing the work (an eval took 12 s instead of 3.3 s on a busy 2-core machine). Setting the
// variable at the start of main is therefore too late; the process runs itself again with it set.
#pragma once

namespace mp {

// If OMP_WAIT_POLICY is unset: sets it to PASSIVE and replaces the process with a fresh run of the
// same executable and arguments, so it never returns. Otherwise (set by the user, or by the first
// run) returns at once. If the executable cannot be run again, returns and the default applies.
void rerun_with_passive_openmp_wait(char** argv);

}  // namespace mp
