#include "process_settings.hpp"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <malloc.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace psl {

namespace {
// Every training step allocates the same large activation and gradient buffers (12.5 MB
// for fmnist_cnn's first layer at B = 128, 25 MB at an evaluation batch of 256). glibc
// serves blocks that large with mmap and gives them back with munmap, so each step paid
// for fresh zeroed pages: page faults took a quarter of a run's time and made evaluation
// several times slower (docs/benchmarks.md). Served from the heap and never trimmed, the buffers are
// reused; the price is that the peak stays resident, which a training process keeps anyway.
void keep_freed_memory() {
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}
}  // namespace

// One pool of threads: torch's intra-op pool. OpenBLAS's own pool would compete for
// the same cores, so it gets one thread (docs/benchmarks.md), unless the user asked for
// a number with OPENBLAS_NUM_THREADS.
void configure_process(std::int64_t threads) {
  keep_freed_memory();
  using SetThreads = void (*)(int);
  if (!std::getenv("OPENBLAS_NUM_THREADS"))
    if (auto* set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(1);
  const auto n = threads > 0 ? threads : std::max<std::int64_t>(1, std::thread::hardware_concurrency());
  at::set_num_threads(int(n));
}

bool exit_with_parent(int parent) {
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  return getppid() == parent;  // it may have ended before the line above
}

}  // namespace psl
