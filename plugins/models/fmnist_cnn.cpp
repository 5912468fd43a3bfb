// The paper's Fashion-MNIST CNN, cut after the first (default) or second conv block:
//   Conv(1->32, 3x3, pad 1) ReLU MaxPool(2) | Conv(32->64, 3x3, pad 1) ReLU MaxPool(2)
//   Flatten Linear(64*7*7 -> 128) ReLU Linear(128 -> classes)
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <psl/api/split_model.hpp>
#include <psl/plugin.hpp>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include <stdexcept>

namespace {

namespace nn = torch::nn;

class FmnistCnn : public psl::SplitModel {
 public:
  explicit FmnistCnn(std::int64_t cut) : cut_(cut) {}

  psl::SplitNetwork build(const std::vector<std::int64_t>& shape, std::int64_t classes) const override {
    if (shape.size() != 3 || shape[1] < 4 || shape[2] < 4)
      throw std::invalid_argument(fmt::format("needs samples of shape [channels, height, width] with height and width "
                                              "at least 4; the data set's shape is [{}]",
                                              fmt::join(shape, ", ")));
    const std::int64_t channels = shape.at(0);
    const std::int64_t flat = 64 * (shape.at(1) / 4) * (shape.at(2) / 4);
    std::vector<nn::Sequential> blocks = {
        nn::Sequential(nn::Conv2d(nn::Conv2dOptions(channels, 32, 3).padding(1)), nn::ReLU(), nn::MaxPool2d(2)),
        nn::Sequential(nn::Conv2d(nn::Conv2dOptions(32, 64, 3).padding(1)), nn::ReLU(), nn::MaxPool2d(2)),
        nn::Sequential(nn::Flatten(), nn::Linear(flat, 128), nn::ReLU(), nn::Linear(128, classes)),
    };
    psl::SplitNetwork net;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      auto& part = std::int64_t(i) < cut_ ? net.client : net.server;
      for (const auto& m : *blocks[i]) part->push_back(m);
    }
    return net;
  }

 private:
  std::int64_t cut_;
};

}  // namespace

PSL_PLUGIN() {
  registrar.add_model({"fmnist_cnn", "the paper's 2-conv CNN for 28x28 images",
                       {psl::param_int("cut", 1, "conv blocks on the client side").at_least(1).at_most(2)}},
                      [](const psl::Context& ctx) { return std::make_unique<FmnistCnn>(ctx.params.get_int("cut")); });
}
