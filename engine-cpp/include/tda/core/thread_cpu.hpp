// CPU time of the calling thread, in seconds: the clock of the estimate's bounded
// measurements (pilot reductions, the collapse run), which a loaded machine does
// not shorten the way a wall-clock deadline would be.
#pragma once

#include <ctime>

namespace tda::core {

inline double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

}  // namespace tda::core
