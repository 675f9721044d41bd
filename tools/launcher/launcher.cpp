// modelpress: the command users run. It links neither LibTorch nor OpenMP nor OpenBLAS, so it starts
// in a millisecond, sets the thread-wait variables those libraries read when they load
// (lib/runtime/thread_waits.h), and replaces itself with the engine, which holds every tool. The
// process id stays the same, so signals and exit codes reach the caller unchanged.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "lib/runtime/installed_file.h"
#include "lib/runtime/thread_waits.h"

int main(int, char** argv) {
  mp::set_passive_thread_waits();
  const std::string engine = mp::installed_file("modelpress-engine").string();
  ::execv(engine.c_str(), argv);
  std::fprintf(stderr, "modelpress: cannot run its engine %s: %s\n", engine.c_str(), std::strerror(errno));
  return 1;
}
