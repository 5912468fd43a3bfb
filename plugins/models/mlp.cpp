// A multilayer perceptron: Flatten, hidden Linear+ReLU layers, a Linear head; the client
// holds the first `cut` hidden layers.
#include <psl/api/split_model.hpp>
#include <psl/plugin.hpp>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/linear.h>

#include <numeric>
#include <stdexcept>

namespace {

namespace nn = torch::nn;

class Mlp : public psl::SplitModel {
 public:
  Mlp(std::vector<std::int64_t> hidden, std::int64_t cut) : hidden_(std::move(hidden)), cut_(cut) {
    if (cut_ > std::int64_t(hidden_.size()))
      throw std::invalid_argument("model.cut must not exceed the number of hidden layers");
  }

  psl::SplitNetwork build(const std::vector<std::int64_t>& shape, std::int64_t classes) const override {
    std::int64_t width = std::accumulate(shape.begin(), shape.end(), std::int64_t{1}, std::multiplies<>());
    psl::SplitNetwork net;
    net.client->push_back(nn::Flatten());
    for (std::size_t i = 0; i < hidden_.size(); ++i) {
      auto& part = std::int64_t(i) < cut_ ? net.client : net.server;
      part->push_back(nn::Linear(width, hidden_[i]));
      part->push_back(nn::ReLU());
      width = hidden_[i];
    }
    net.server->push_back(nn::Linear(width, classes));
    return net;
  }

 private:
  std::vector<std::int64_t> hidden_;
  std::int64_t cut_;
};

}  // namespace

PSL_PLUGIN() {
  registrar.add_model({"mlp", "multilayer perceptron",
                       {psl::param_int_list("hidden", {256, 128}, "hidden layer widths").at_least(1),
                        psl::param_int("cut", 1, "hidden layers on the client side").at_least(1)}},
                      [](const psl::Context& ctx) {
                        return std::make_unique<Mlp>(ctx.params.get_int_list("hidden"), ctx.params.get_int("cut"));
                      });
}
