// A CIFAR-style ResNet (8 or 18) with basic blocks. The client part (stem and the stages
// before the cut) uses GroupNorm, as in the paper, since client batches can be tiny;
// the server part uses BatchNorm.
#include <psl/api/split_model.hpp>
#include <psl/plugin.hpp>
#include <torch/nn/functional/activation.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/modules/pooling.h>

#include <stdexcept>

namespace {

namespace nn = torch::nn;

nn::AnyModule norm(std::int64_t channels, bool group_norm, std::int64_t groups) {
  if (group_norm) return nn::AnyModule(nn::GroupNorm(nn::GroupNormOptions(std::min(groups, channels), channels)));
  return nn::AnyModule(nn::BatchNorm2d(channels));
}

struct BasicBlockImpl : nn::Module {
  BasicBlockImpl(std::int64_t in, std::int64_t out, std::int64_t stride, bool group_norm, std::int64_t groups) {
    conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)));
    norm1 = nn::AnyModule(norm(out, group_norm, groups));
    register_module("norm1", norm1.ptr());
    conv2 = register_module("conv2", nn::Conv2d(nn::Conv2dOptions(out, out, 3).padding(1).bias(false)));
    norm2 = nn::AnyModule(norm(out, group_norm, groups));
    register_module("norm2", norm2.ptr());
    if (stride != 1 || in != out) {
      shortcut = register_module(
          "shortcut", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false))));
      shortcut_norm = nn::AnyModule(norm(out, group_norm, groups));
      register_module("shortcut_norm", shortcut_norm.ptr());
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    auto y = torch::relu(norm1.forward(conv1(x)));
    y = norm2.forward(conv2(y));
    auto s = shortcut ? shortcut_norm.forward(shortcut->forward(x)) : x;
    return torch::relu(y + s);
  }
  nn::Conv2d conv1{nullptr}, conv2{nullptr};
  nn::AnyModule norm1, norm2, shortcut_norm;
  nn::Sequential shortcut{nullptr};
};
TORCH_MODULE(BasicBlock);

class ResNet : public psl::SplitModel {
 public:
  ResNet(std::int64_t depth, std::int64_t cut, std::int64_t width, std::int64_t groups)
      : cut_(cut), width_(width), groups_(groups) {
    if (depth == 8) blocks_ = {1, 1, 1};
    else if (depth == 18) blocks_ = {2, 2, 2, 2};
    else throw std::invalid_argument("model.depth must be 8 or 18");
    if (cut_ > std::int64_t(blocks_.size()))
      throw std::invalid_argument("model.cut must not exceed the number of stages (3 for depth 8, 4 for 18)");
  }

  psl::SplitNetwork build(const std::vector<std::int64_t>& shape, std::int64_t classes) const override {
    psl::SplitNetwork net;
    net.client->push_back(nn::Conv2d(nn::Conv2dOptions(shape.at(0), width_, 3).padding(1).bias(false)));
    net.client->push_back(norm(width_, true, groups_));
    net.client->push_back(nn::ReLU());
    std::int64_t in = width_;
    for (std::size_t stage = 0; stage < blocks_.size(); ++stage) {
      const bool client = std::int64_t(stage) < cut_;
      auto& part = client ? net.client : net.server;
      const std::int64_t out = width_ << stage;
      for (std::int64_t b = 0; b < blocks_[stage]; ++b) {
        part->push_back(BasicBlock(in, out, (stage > 0 && b == 0) ? 2 : 1, client, groups_));
        in = out;
      }
    }
    net.server->push_back(nn::AdaptiveAvgPool2d(1));
    net.server->push_back(nn::Flatten());
    net.server->push_back(nn::Linear(in, classes));
    return net;
  }

 private:
  std::vector<std::int64_t> blocks_;
  std::int64_t cut_, width_, groups_;
};

}  // namespace

PSL_PLUGIN() {
  registrar.add_model(
      {"resnet", "CIFAR-style ResNet-8/18, GroupNorm on the client side",
       {psl::param_int("depth", 18, "8 or 18").at_least(8).at_most(18),
        psl::param_int("cut", 1, "stages on the client side (the paper: 1, after layer1)").at_least(1).at_most(4),
        psl::param_int("width", 64, "channels of the first stage").at_least(1),
        psl::param_int("groups", 32, "GroupNorm groups on the client side").at_least(1)}},
      [](const psl::Context& ctx) {
        return std::make_unique<ResNet>(ctx.params.get_int("depth"), ctx.params.get_int("cut"),
                                        ctx.params.get_int("width"), ctx.params.get_int("groups"));
      });
}
