#include <ATen/ATen.h>
#include <catch2/catch.hpp>
#include <zlib.h>

#include <fstream>

#include "psl/api/dataset.hpp"
#include "sampling_harness.hpp"

using namespace psl;
using Catch::Matchers::Contains;

namespace {
std::vector<unsigned char> idx_bytes(std::uint8_t rank, std::vector<std::uint32_t> dims, std::size_t data_bytes,
                                     std::uint8_t type = 0x08) {
  std::vector<unsigned char> out = {0, 0, type, rank};
  for (auto d : dims)
    for (int s = 24; s >= 0; s -= 8) out.push_back((d >> s) & 0xff);
  for (std::size_t i = 0; i < data_bytes; ++i) out.push_back((unsigned char)(i % 10));
  return out;
}

void write_gz(const std::filesystem::path& file, const std::vector<unsigned char>& bytes) {
  gzFile f = gzopen(file.c_str(), "wb");
  gzwrite(f, bytes.data(), unsigned(bytes.size()));
  gzclose(f);
}

// A tiny IDX data set: 20 train and 10 test images of 4x4.
std::filesystem::path make_idx_set(const std::string& name) {
  const auto dir = test::temp_dir(name);
  write_gz(dir / "train-images-idx3-ubyte.gz", idx_bytes(3, {20, 4, 4}, 20 * 16));
  write_gz(dir / "train-labels-idx1-ubyte.gz", idx_bytes(1, {20}, 20));
  write_gz(dir / "t10k-images-idx3-ubyte.gz", idx_bytes(3, {10, 4, 4}, 10 * 16));
  write_gz(dir / "t10k-labels-idx1-ubyte.gz", idx_bytes(1, {10}, 10));
  return dir;
}

std::unique_ptr<Dataset> open_idx(const std::filesystem::path& dir) {
  Context ctx;
  ctx.params = test::defaults_for(Kind::Dataset, "fashion_mnist", {{"path", dir.string()}});
  return test::bundled().make<Dataset>(Kind::Dataset, "fashion_mnist", ctx);
}

std::string open_error(const std::filesystem::path& dir) {
  try {
    auto d = open_idx(dir);
    d->features(Split::Train, {0});
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("the IDX reader loads a good data set, gzip or plain", "[dataset]") {
  const auto dir = make_idx_set("idx-good");
  auto data = open_idx(dir);
  CHECK(data->num_classes() == 10);
  CHECK(data->sample_shape() == std::vector<std::int64_t>{1, 4, 4});
  CHECK(data->labels(Split::Train).size() == 20);
  CHECK(data->labels(Split::Test)[3] == 3);
  auto x = data->features(Split::Train, {0, 2});
  CHECK(x.sizes() == at::IntArrayRef({2, 1, 4, 4}));
  // Pixel bytes cycle 0..9; sample 2 starts at byte 32, i.e. value 2, scaled to [-1, 1].
  CHECK(x[1][0][0][0].item<float>() == Approx(2 / 127.5 - 1.0));

  // Uncompressed files are read too.
  std::filesystem::remove(dir / "train-labels-idx1-ubyte.gz");
  auto raw = idx_bytes(1, {20}, 20);
  std::ofstream(dir / "train-labels-idx1-ubyte", std::ios::binary).write((const char*)raw.data(), std::streamsize(raw.size()));
  CHECK(open_idx(dir)->labels(Split::Train).size() == 20);
}

TEST_CASE("corrupt IDX files are clear errors naming the file", "[dataset]") {
  SECTION("missing") {
    const auto dir = make_idx_set("idx-missing");
    std::filesystem::remove(dir / "t10k-labels-idx1-ubyte.gz");
    CHECK_THAT(open_error(dir), Contains("t10k-labels-idx1-ubyte: no such file"));
  }
  SECTION("bad magic number") {
    const auto dir = make_idx_set("idx-magic");
    write_gz(dir / "train-labels-idx1-ubyte.gz", idx_bytes(1, {20}, 20, 0x0d));
    CHECK_THAT(open_error(dir), Contains("train-labels-idx1-ubyte.gz: bad magic number 00000d01"));
  }
  SECTION("truncated") {
    const auto dir = make_idx_set("idx-truncated");
    write_gz(dir / "train-images-idx3-ubyte.gz", idx_bytes(3, {20, 4, 4}, 100));
    CHECK_THAT(open_error(dir), Contains("train-images-idx3-ubyte.gz: truncated"));
  }
  SECTION("counts that disagree") {
    const auto dir = make_idx_set("idx-counts");
    write_gz(dir / "train-images-idx3-ubyte.gz", idx_bytes(3, {19, 4, 4}, 19 * 16));
    CHECK_THAT(open_error(dir), Contains("holds 19 images but"));
  }
}

TEST_CASE("synthetic data is seeded and a sample is always the same", "[dataset]") {
  auto make = [](std::uint64_t seed) {
    Context ctx;
    ctx.seed = seed;
    ctx.params = test::defaults_for(Kind::Dataset, "synthetic", {{"samples", std::int64_t{100}}, {"shape", std::vector<std::int64_t>{3, 2}}});
    return test::bundled().make<Dataset>(Kind::Dataset, "synthetic", ctx);
  };
  auto a = make(1), b = make(1), c = make(2);
  CHECK(a->labels(Split::Train) == b->labels(Split::Train));
  CHECK(a->labels(Split::Train) != c->labels(Split::Train));
  auto x1 = a->features(Split::Train, {5, 7});
  auto x2 = a->features(Split::Train, {7});
  CHECK(x1.sizes() == at::IntArrayRef({2, 3, 2}));
  CHECK(at::equal(x1[1], x2[0]));
}
