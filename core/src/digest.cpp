#include "digest.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <fstream>
#include <memory>
#include <stdexcept>

namespace psl {

namespace {

struct Sha256 {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
  Sha256() {
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) throw std::runtime_error("SHA-256 unavailable");
  }
  void update(const void* data, std::size_t n) { EVP_DigestUpdate(ctx.get(), data, n); }
  std::string hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx.get(), digest, &n);
    std::string out;
    for (unsigned int i = 0; i < n; ++i) out += fmt::format("{:02x}", digest[i]);
    return out;
  }
};

}  // namespace

std::string sha256_hex(std::string_view bytes) {
  Sha256 h;
  h.update(bytes.data(), bytes.size());
  return h.hex();
}

std::string file_prefix_sha256(const std::filesystem::path& file, std::uintmax_t bytes) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot read it", file.string()));
  Sha256 h;
  char buffer[1 << 16];
  std::uintmax_t left = bytes;
  while (left > 0) {
    const auto want = std::streamsize(std::min<std::uintmax_t>(left, sizeof buffer));
    in.read(buffer, want);
    if (in.gcount() != want)
      throw std::runtime_error(fmt::format("{}: holds fewer than the {} bytes recorded for it", file.string(), bytes));
    h.update(buffer, std::size_t(want));
    left -= std::uintmax_t(want);
  }
  return h.hex();
}

std::string file_sha256(const std::filesystem::path& file) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  if (ec) throw std::runtime_error(fmt::format("{}: cannot read it: {}", file.string(), ec.message()));
  return file_prefix_sha256(file, size);
}

}  // namespace psl
