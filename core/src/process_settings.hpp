#pragma once
// Process-wide settings a training process makes once, before its first step.
#include <cstdint>

namespace psl {

// torch intra-op threads (0: all cores); OpenBLAS kept to one thread; the allocator
// told to keep freed memory (see process_settings.cpp).
void configure_process(std::int64_t threads);

// Ends this process (SIGTERM) when process `parent` ends, killed or not, so that children
// of `psl run` and `psl sweep` never outlive them. False if the parent is already gone.
bool exit_with_parent(int parent);

}  // namespace psl
