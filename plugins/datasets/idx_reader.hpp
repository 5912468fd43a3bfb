// Reads IDX files (the MNIST family's format), gzip-compressed or not.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace psl::datasets {

struct IdxArray {
  std::vector<std::int64_t> dims;
  std::vector<std::uint8_t> data;  // unsigned bytes, row-major
};

// Throws std::runtime_error naming the file and what is wrong (missing, bad magic number,
// truncated, wrong element type or rank).
IdxArray read_idx(const std::string& path, int expected_rank);
// The dimensions from the header only, with the same checks.
std::vector<std::int64_t> read_idx_dims(const std::string& path, int expected_rank);

}  // namespace psl::datasets
