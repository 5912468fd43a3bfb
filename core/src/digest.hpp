// SHA-256 (OpenSSL) in lowercase hex: the checksums that let a run folder prove its files
// belong together and were not damaged after they were written.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace psl {

std::string sha256_hex(std::string_view bytes);

// The checksum of the first `bytes` bytes of `file`; throws std::runtime_error naming the
// file if it cannot be read or is shorter.
std::string file_prefix_sha256(const std::filesystem::path& file, std::uintmax_t bytes);
// The checksum of the whole file; throws like file_prefix_sha256.
std::string file_sha256(const std::filesystem::path& file);

}  // namespace psl
