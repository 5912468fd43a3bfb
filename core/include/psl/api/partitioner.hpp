// The partitioner: splits the training set's sample indices among the clients.
#pragma once

#include <cstdint>
#include <vector>

#include "psl/random.hpp"

namespace psl {

class Partitioner {
 public:
  virtual ~Partitioner();
  // Returns one list of sample indices per client. Every index in [0, labels.size())
  // must go to exactly one client and every client gets at least one; a setting that
  // cannot be met throws std::invalid_argument with a message saying why.
  virtual std::vector<std::vector<std::int64_t>> split(const std::vector<std::int32_t>& labels,
                                                       std::int64_t num_classes,
                                                       std::int64_t num_clients, Rng& rng) const = 0;
};

}  // namespace psl
