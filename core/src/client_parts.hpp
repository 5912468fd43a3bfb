// The clients' side of a step, wherever the clients run: in this process
// (local_client_parts.cpp) or in client processes over TCP (net/remote_client_parts.cpp).
// The Trainer runs each step's protocol schedule through this interface, so that every
// protocol behaves alike on every transport.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/serialize/archive.h>

#include <cstdint>
#include <vector>

#include "psl/api/protocol.hpp"  // PartLayout
#include "step_planner.hpp"

namespace psl {

struct ClientOutputs {
  std::vector<at::Tensor> pieces;  // activations in take order; a piece may cover several takes
  at::Tensor labels;               // the pieces' samples' labels, in the same order
  bool empty() const { return pieces.empty(); }
};

struct ObservedLatency {
  std::int64_t client = 0, samples = 0;
  double seconds = 0;  // the client's part of the step: its forward and backward passes and transfers
};

// What happened to real clients during a step.
struct ClientEvents {
  std::vector<std::int64_t> dropped;  // left the run (on_client_loss = "drop")
  std::vector<ObservedLatency> latencies;
  StepBytes bytes;  // the tensor payload the step's training sent and received
};

class ClientParts {
 public:
  virtual ~ClientParts();
  // Forward passes of the step's takes, each on its client's part. Takes whose client
  // was lost have no piece; no piece at all: nothing to train this step.
  virtual ClientOutputs forward(const PlannedStep& step) = 0;
  // `gradients[i]` is the gradient of `forward`'s pieces[i]. The clients back-propagate
  // it and update as the layout says.
  virtual void backward(const PlannedStep& step, const std::vector<at::Tensor>& gradients) = 0;
  // PerClient: every client's part becomes the average of all parts, `weights[k]` for
  // client k.
  virtual void average(const std::vector<double>& weights) = 0;
  // PerClient: client `to` takes over the weights of client `from`'s part (split
  // learning's hand-over; `to` keeps its own optimizer state).
  virtual void hand_over(std::int64_t from, std::int64_t to) = 0;
  // The client part to evaluate with: the shared part, or the weighted average of all.
  virtual torch::nn::Sequential evaluation_part(const std::vector<double>& weights) = 0;
  // Every client's part and optimizer state, for the run's checkpoint.
  virtual void save(torch::serialize::OutputArchive& archive) = 0;
  virtual void load(torch::serialize::InputArchive& archive) = 0;
  // Every client optimizer's learning rate becomes the one it was built with times `factor`
  // (training.lr_schedule), from the next optimizer step on.
  virtual void scale_learning_rate(double factor) = 0;
  // Real clients: what happened since the last call.
  virtual ClientEvents take_events() { return {}; }
};

}  // namespace psl
