// A seeded synthetic classification set for tests and scale runs. Labels are drawn at
// construction (4 bytes a sample, so 10,000,000 samples cost 40 MB); a sample's features
// are computed on demand from its index: its class's prototype plus Gaussian noise from
// a counter-based generator, so a sample is always the same and nothing else is stored.
#include <ATen/ATen.h>
#include <psl/api/dataset.hpp>
#include <psl/plugin.hpp>
#include <psl/random.hpp>

#include <cmath>
#include <numeric>

namespace {

using psl::mix64;

// Standard normal from two hashed uniforms (Box-Muller).
float gaussian(std::uint64_t key) {
  const double u1 = (double(mix64(key) >> 11) + 0.5) * 0x1.0p-53;
  const double u2 = (double(mix64(key ^ 0xda942042e4dd58b5ULL) >> 11) + 0.5) * 0x1.0p-53;
  return float(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

class SyntheticDataset : public psl::Dataset {
 public:
  explicit SyntheticDataset(const psl::Context& ctx)
      : classes_(ctx.params.get_int("classes")),
        shape_(ctx.params.get_int_list("shape")),
        noise_(float(ctx.params.get_float("noise"))),
        seed_(psl::stream_seed(ctx.seed, "synthetic-data")) {
    if (shape_.empty()) throw std::invalid_argument("data.shape must have at least one dimension");
    features_ = std::accumulate(shape_.begin(), shape_.end(), std::int64_t{1}, std::multiplies<>());
    const std::int64_t counts[2] = {ctx.params.get_int("samples"), ctx.params.get_int("test_samples")};
    for (int s = 0; s < 2; ++s) {
      psl::Rng rng(psl::stream_seed(ctx.seed, "synthetic-labels", s));
      std::uniform_int_distribution<std::int32_t> label(0, std::int32_t(classes_ - 1));
      labels_[s].resize(counts[s]);
      for (auto& l : labels_[s]) l = label(rng);
    }
  }

  std::int64_t num_classes() const override { return classes_; }
  std::vector<std::int64_t> sample_shape() const override { return shape_; }
  const std::vector<std::int32_t>& labels(psl::Split split) const override { return labels_[index(split)]; }

  at::Tensor features(psl::Split split, const std::vector<std::int64_t>& indices) const override {
    std::vector<std::int64_t> dims = {std::int64_t(indices.size())};
    dims.insert(dims.end(), shape_.begin(), shape_.end());
    at::Tensor out = at::empty(dims, at::kFloat);
    float* p = out.data_ptr<float>();
    const auto& labels = labels_[index(split)];
    const std::uint64_t split_key = mix64(seed_ + index(split));
    for (std::int64_t i : indices) {
      const std::uint64_t sample_key = mix64(split_key ^ std::uint64_t(i));
      const std::uint64_t class_key = mix64(seed_ ^ (0x5bd1e995ULL * std::uint64_t(labels[i] + 1)));
      for (std::int64_t j = 0; j < features_; ++j)
        *p++ = gaussian(class_key + std::uint64_t(j)) + noise_ * gaussian(sample_key + std::uint64_t(j));
    }
    return out;
  }

 private:
  static int index(psl::Split split) { return split == psl::Split::Train ? 0 : 1; }

  std::int64_t classes_;
  std::vector<std::int64_t> shape_;
  float noise_;
  std::uint64_t seed_;
  std::int64_t features_ = 1;
  std::vector<std::int32_t> labels_[2];
};

}  // namespace

PSL_PLUGIN() {
  registrar.add_dataset(
      {"synthetic", "seeded synthetic classes: a per-class prototype plus Gaussian noise",
       {psl::param_int("samples", 10000, "training samples").at_least(1),
        psl::param_int("test_samples", 2000, "test samples").at_least(1),
        psl::param_int("classes", 10, "number of classes").at_least(2).at_most(1 << 20),
        psl::param_int_list("shape", {1, 28, 28}, "shape of one sample").at_least(1),
        psl::param_float("noise", 3.0, "noise standard deviation (prototypes have 1)").at_least(0)}},
      [](const psl::Context& ctx) { return std::make_unique<SyntheticDataset>(ctx); });
}
