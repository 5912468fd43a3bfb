#include "idx_reader.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <filesystem>
#include <memory>
#include <stdexcept>

namespace psl::datasets {

namespace {
struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};

void read_exact(gzFile f, void* out, std::size_t n, const std::string& path, const char* what) {
  auto* p = static_cast<char*>(out);
  while (n > 0) {
    const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n, 1u << 30));
    int got = gzread(f, p, chunk);
    if (got < 0) {
      int code = 0;
      throw std::runtime_error(fmt::format("{}: corrupt file while reading {}: {}", path, what, gzerror(f, &code)));
    }
    if (got == 0) throw std::runtime_error(fmt::format("{}: truncated: the file ends inside {}", path, what));
    p += got;
    n -= static_cast<std::size_t>(got);
  }
}

std::uint32_t big_endian(const unsigned char b[4]) {
  return (std::uint32_t(b[0]) << 24) | (std::uint32_t(b[1]) << 16) | (std::uint32_t(b[2]) << 8) | b[3];
}
}  // namespace

namespace {
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

GzFile open_with_header(const std::string& path, int expected_rank, std::vector<std::int64_t>& dims) {
  if (!std::filesystem::exists(path)) throw std::runtime_error(fmt::format("{}: no such file", path));
  // gzread reads plain files too, so one code path serves .gz and uncompressed IDX.
  GzFile f(gzopen(path.c_str(), "rb"));
  if (!f) throw std::runtime_error(fmt::format("{}: cannot open", path));

  unsigned char magic[4];
  read_exact(f.get(), magic, 4, path, "the header");
  if (magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08)
    throw std::runtime_error(fmt::format("{}: bad magic number {:02x}{:02x}{:02x}{:02x}: not an IDX file of "
                                         "unsigned bytes (expected 000008xx)",
                                         path, magic[0], magic[1], magic[2], magic[3]));
  if (magic[3] != expected_rank)
    throw std::runtime_error(
        fmt::format("{}: IDX rank is {}, expected {}", path, int(magic[3]), expected_rank));

  for (int d = 0; d < expected_rank; ++d) {
    unsigned char b[4];
    read_exact(f.get(), b, 4, path, "the header");
    dims.push_back(big_endian(b));
  }
  return f;
}
}  // namespace

std::vector<std::int64_t> read_idx_dims(const std::string& path, int expected_rank) {
  std::vector<std::int64_t> dims;
  open_with_header(path, expected_rank, dims);
  return dims;
}

IdxArray read_idx(const std::string& path, int expected_rank) {
  IdxArray out;
  GzFile f = open_with_header(path, expected_rank, out.dims);
  std::size_t total = 1;
  for (auto d : out.dims) total *= static_cast<std::size_t>(d);
  out.data.resize(total);
  read_exact(f.get(), out.data.data(), total, path, fmt::format("the data ({} bytes expected)", total).c_str());
  unsigned char extra;
  if (gzread(f.get(), &extra, 1) > 0)
    throw std::runtime_error(fmt::format("{}: more data than its header's dimensions say", path));
  return out;
}

}  // namespace psl::datasets
