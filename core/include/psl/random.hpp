// Seeded random streams. Every component draws from its own stream, derived from the
// manifest's seed and a stream name, so adding a draw in one component never shifts
// the numbers of another, and the same manifest and seed give the same numbers.
#pragma once

#include <cstdint>
#include <random>
#include <string_view>

namespace psl {

using Rng = std::mt19937_64;

// splitmix64: a well-mixed 64-bit hash of x, for counter-based randomness (a value that
// depends only on its index, like a synthetic sample's features).
std::uint64_t mix64(std::uint64_t x);

// A 64-bit seed for the named stream (splitmix64 over an FNV-1a hash of the name).
std::uint64_t stream_seed(std::uint64_t run_seed, std::string_view stream, std::uint64_t index = 0);

inline Rng make_rng(std::uint64_t run_seed, std::string_view stream, std::uint64_t index = 0) {
  return Rng(stream_seed(run_seed, stream, index));
}

}  // namespace psl
