// One PSL step with real clients: step requests out, activations in, one server step,
// gradients out, parameter gradients in, one update of the shared client part. Also
// where a lost client meets transport.on_client_loss.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "net/server.hpp"
#include "settings.hpp"
#include "step_planner.hpp"
#include "trainer.hpp"

namespace psl::net {

struct RemoteOptions {
  ClientLossPolicy on_client_loss = ClientLossPolicy::Abort;
  double step_timeout_s = 60;
  double max_value = 1e6;  // bound on every value a client sends (activations, gradients)
  std::vector<std::int64_t> activation_shape;  // one sample's, e.g. {32, 14, 14}
  std::int64_t num_classes = 10;
};

class ClientLost : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct RemoteHooks {
  std::function<void(std::int64_t)> restart;  // "wait": start client k again if its process died
  std::function<void(const std::string&)> log;
};

class RemoteSteps {
 public:
  RemoteSteps(TcpServer& server, Trainer& trainer, RemoteOptions options, RemoteHooks hooks);

  // Runs the step; returns its loss (NaN if every client of the step was lost).
  // Throws ClientLost under "abort" (or "wait" past the timeout).
  double step(const PlannedStep& step);

  std::int64_t dropped_clients() const { return dropped_; }
  // The clients that left the run in the last step (on_client_loss = "drop"): the
  // planner leaves them out from the next step on.
  const std::vector<std::int64_t>& dropped_in_last_step() const { return dropped_now_; }
  // Per take of the last step that completed it: (client, samples, seconds of its part:
  // request to activations plus gradient to parameter gradients, as the frames arrived).
  struct Latency {
    std::int64_t client, samples;
    double seconds;
  };
  const std::vector<Latency>& latencies_in_last_step() const { return latencies_; }

  // Wall seconds spent so far in each phase of the steps, to see where a step's time
  // goes: waiting for activations (client forward passes and the upload), the server's
  // own pass, waiting for the clients' parameter gradients (download, backward, upload).
  struct PhaseSeconds {
    double activations = 0, server = 0, client_gradients = 0;
  };
  const PhaseSeconds& phase_seconds() const { return phases_; }

 private:
  void request(const PlannedStep& step, std::size_t i);
  // The next frame of `type` for this step from the client; false if the client was
  // lost and the policy says go on without it. A client that comes back ("wait") is
  // taken through its part of the step again, so that none of it is lost or changed.
  bool await(const PlannedStep& step, std::size_t i, MsgType type, Frame& out);
  bool handle_loss(const PlannedStep& step, std::size_t i, const std::string& why);
  // Wrong content from a client: drops it (on_client_loss = "drop") or throws ClientLost.
  void refuse(const PlannedStep& step, std::size_t i, const std::string& problem);

  TcpServer& server_;
  Trainer& trainer_;
  RemoteOptions options_;
  RemoteHooks hooks_;
  std::vector<at::Tensor> gradients_;  // per take: the gradient of its activations, for a redo
  std::int64_t dropped_ = 0;
  std::vector<std::int64_t> dropped_now_;
  std::vector<Latency> latencies_;
  std::vector<std::chrono::steady_clock::time_point> sent_at_;  // per take: its last request or gradient
  std::vector<double> client_s_;                                // per take: its seconds so far
  PhaseSeconds phases_;
};

}  // namespace psl::net
