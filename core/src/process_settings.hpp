#pragma once
// Process-wide settings a training process makes once, before its first step.
#include <cstdint>

namespace psl {

// torch intra-op threads (0: all cores); OpenBLAS kept to one thread; the allocator
// told to keep freed memory (see process_settings.cpp).
void configure_process(std::int64_t threads);

}  // namespace psl
