#include "psl/random.hpp"

namespace psl {

std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t stream_seed(std::uint64_t run_seed, std::string_view stream, std::uint64_t index) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
  for (unsigned char c : stream) h = (h ^ c) * 0x100000001b3ULL;
  return mix64(mix64(run_seed ^ h) + index);
}

}  // namespace psl
