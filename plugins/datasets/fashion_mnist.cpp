// Fashion-MNIST, or any IDX data set with the same file names (MNIST, EMNIST), read from
// a folder. Labels load at once; images only when features are first asked for.
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <psl/api/dataset.hpp>
#include <psl/plugin.hpp>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <stdexcept>

#include "idx_reader.hpp"

namespace {

namespace fs = std::filesystem;

std::string find_file(const fs::path& dir, const std::string& stem) {
  for (const auto& name : {stem + ".gz", stem})
    if (fs::exists(dir / name)) return (dir / name).string();
  throw std::runtime_error(fmt::format("{}: no such file (nor {}.gz); install Debian's dataset-fashion-mnist "
                                       "or set data.path",
                                       (dir / stem).string(), stem));
}

class IdxDataset : public psl::Dataset {
 public:
  explicit IdxDataset(const fs::path& dir) {
    const std::string prefixes[2] = {"train", "t10k"};
    std::int32_t max_label = 0;
    for (int s = 0; s < 2; ++s) {
      image_files_[s] = find_file(dir, prefixes[s] + "-images-idx3-ubyte");
      const std::string label_file = find_file(dir, prefixes[s] + "-labels-idx1-ubyte");
      auto idx = psl::datasets::read_idx(label_file, 1);
      labels_[s].assign(idx.data.begin(), idx.data.end());
      for (auto l : labels_[s]) max_label = std::max<std::int32_t>(max_label, l);
      auto dims = psl::datasets::read_idx_dims(image_files_[s], 3);
      if (dims[0] != std::int64_t(labels_[s].size()))
        throw std::runtime_error(fmt::format("{}: holds {} images but {} holds {} labels", image_files_[s], dims[0],
                                             label_file, labels_[s].size()));
      shape_ = {1, dims[1], dims[2]};
    }
    num_classes_ = max_label + 1;
  }

  std::int64_t num_classes() const override { return num_classes_; }
  std::vector<std::int64_t> sample_shape() const override { return shape_; }
  const std::vector<std::int32_t>& labels(psl::Split split) const override { return labels_[index(split)]; }

  at::Tensor features(psl::Split split, const std::vector<std::int64_t>& indices) const override {
    load_images();
    const auto& images = images_[index(split)];
    auto idx = at::from_blob(const_cast<std::int64_t*>(indices.data()), {std::int64_t(indices.size())}, at::kLong);
    // Scaled to [-1, 1]: one normalization that fits every IDX image set.
    return images.index_select(0, idx).to(at::kFloat).div_(127.5).sub_(1.0);
  }

 private:
  static int index(psl::Split split) { return split == psl::Split::Train ? 0 : 1; }

  void load_images() const {
    std::call_once(loaded_, [&] {
      for (int s = 0; s < 2; ++s) {
        auto idx = psl::datasets::read_idx(image_files_[s], 3);
        auto t = at::empty({idx.dims[0], 1, idx.dims[1], idx.dims[2]}, at::kByte);
        std::copy(idx.data.begin(), idx.data.end(), t.data_ptr<std::uint8_t>());
        images_[s] = t;
      }
    });
  }

  std::string image_files_[2];
  std::vector<std::int32_t> labels_[2];
  std::int64_t num_classes_ = 0;
  mutable std::once_flag loaded_;
  mutable at::Tensor images_[2];
  std::vector<std::int64_t> shape_;
};

}  // namespace

PSL_PLUGIN() {
  registrar.add_dataset(
      {"fashion_mnist", "Fashion-MNIST (or any IDX data set with the same file names) from a folder",
       {psl::param_string("path", "/usr/share/datasets/fashion-mnist",
                          "folder with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]")}},
      [](const psl::Context& ctx) {
        fs::path dir = ctx.params.get_string("path");
        if (dir.is_relative()) dir = ctx.base_dir / dir;
        return std::make_unique<IdxDataset>(dir);
      });
}
