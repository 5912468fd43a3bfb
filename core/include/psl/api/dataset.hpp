// The data set: labels up front (cheap), features only when asked for, so that a
// sampling-only run (`psl sample`) never loads images.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace psl {

enum class Split { Train, Test };

class Dataset {
 public:
  virtual ~Dataset();
  virtual std::int64_t num_classes() const = 0;
  virtual std::vector<std::int64_t> sample_shape() const = 0;  // e.g. {1, 28, 28}
  virtual const std::vector<std::int32_t>& labels(Split split) const = 0;
  // Float32 tensor of shape [indices.size(), sample_shape...], normalized for training.
  virtual at::Tensor features(Split split, const std::vector<std::int64_t>& indices) const = 0;
};

}  // namespace psl
