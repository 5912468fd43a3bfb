// The split model: a network cut in two. Clients run the client part up to the cut,
// the server runs the rest. Both parts are plain torch::nn::Sequential modules.
#pragma once

#include <torch/nn/modules/container/sequential.h>

#include <cstdint>
#include <vector>

namespace psl {

struct SplitNetwork {
  torch::nn::Sequential client;  // input -> activations ("smashed data")
  torch::nn::Sequential server;  // activations -> logits
};

class SplitModel {
 public:
  virtual ~SplitModel();
  // A freshly initialized network (from torch's global generator, which the host seeds).
  // Called once per replica; the host copies parameters where replicas must agree.
  virtual SplitNetwork build(const std::vector<std::int64_t>& sample_shape,
                             std::int64_t num_classes) const = 0;
};

}  // namespace psl
