// The clients' side of a step when the clients are real processes over TCP: requests
// out, activations in; gradients out; then what the layout needs (shared: the clients'
// parameter gradients in, their sum out to every client; per client: each client steps
// its own part). Also where a lost client meets transport.on_client_loss, and where a
// client that comes back is given the part it must hold (docs/protocol.md).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client_part.hpp"
#include "client_parts.hpp"
#include "net/server.hpp"
#include "settings.hpp"

namespace psl::net {

struct RemoteOptions {
  ClientLossPolicy on_client_loss = ClientLossPolicy::Abort;
  double step_timeout_s = 60;
  double max_value = 1e6;  // bound on every value a client sends (activations, gradients, weights)
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

class RemoteClientParts : public ClientParts {
 public:
  // `initial`: the seeded client part the clients start from (version 0). Shared: the
  // server keeps it as its copy of the one part (for evaluation, checkpoints, and for a
  // client that comes back without it). PerClient: used only to hold averages.
  RemoteClientParts(TcpServer& server, RemoteOptions options, RemoteHooks hooks, PartLayout layout,
                    torch::nn::Sequential initial, const OptimizerSettings& optimizer, std::int64_t clients);

  // Throw ClientLost under "abort" (or "wait" past the timeout).
  ClientOutputs forward(const PlannedStep& step) override;
  void backward(const PlannedStep& step, const std::vector<at::Tensor>& gradients) override;
  void average(const std::vector<double>& weights) override;
  void hand_over(std::int64_t from, std::int64_t to) override;
  torch::nn::Sequential evaluation_part(const std::vector<double>& weights) override;
  void save(torch::serialize::OutputArchive& archive) override;
  void load(torch::serialize::InputArchive& archive) override;
  ClientEvents take_events() override;
  // The server's copy and, with every Gradient and Update, the clients' optimizer steps.
  void scale_learning_rate(double factor) override;

  std::int64_t dropped_clients() const { return dropped_; }
  // Wall seconds spent so far in each phase of the steps, to see where a step's time
  // goes: waiting for activations (client forward passes and the upload), and waiting
  // for the clients' gradients or updates (download, backward, upload).
  struct PhaseSeconds {
    double activations = 0, client_gradients = 0;
  };
  const PhaseSeconds& phase_seconds() const { return phases_; }

 private:
  // False if the client cannot take part (dropped under "drop"; otherwise throws).
  bool request(const PlannedStep& step, std::size_t i);
  void send_gradient(const PlannedStep& step, std::size_t i);
  // A client back after a loss ("wait") in the gradient round: its part of the step again.
  bool redo_take(const PlannedStep& step, std::size_t i);
  // Makes sure the client's part is the one the run expects after a new connection:
  // gives it the part if the server has it; false (with `why`) if nobody has it.
  bool bring_up_to_date(std::int64_t client, std::string& why);
  // What `again` did for a client that came back ("wait"): sent what was lost once more,
  // found the answer already given (and put it in the frame), or lost the client.
  enum class Retry { Resent, Answered, Lost };
  // The next frame of `type` for this step from the client; false if the client was
  // lost and the policy says go on without it. A client that comes back is taken
  // through its part again (`again`), so that none of it is lost or changed.
  bool await(std::int64_t client, std::int64_t step, MsgType type, Frame& out, const std::function<Retry()>& again);
  bool handle_loss(std::int64_t client, std::int64_t step, const std::string& why);
  // Wrong content from a client, or a client that cannot be given its part: drops it
  // (on_client_loss = "drop") or throws ClientLost.
  void refuse(std::int64_t client, std::int64_t step, const std::string& problem);
  // The weights (or whole state) of every client still in the run (or of `only`), in
  // client order. `training`: the bytes count as the step's (an average, a hand-over),
  // not as evaluation or checkpoint traffic.
  std::vector<std::pair<std::int64_t, PartTensors>> gather(PartKind kind, std::int64_t step, bool training,
                                                           std::optional<std::int64_t> only = std::nullopt);
  void give_shared_update(std::int64_t step);

  TcpServer& server_;
  RemoteOptions options_;
  RemoteHooks hooks_;
  PartLayout layout_;
  ClientPart part_;                        // Shared: the server's copy; PerClient: averages
  double base_lr_, lr_;                    // the clients' rate as built, and the one now (lr_schedule)
  std::vector<std::int64_t> expected_;     // per client: the part version it must hold
  std::vector<std::uint64_t> seen_;        // per client: the connection last checked
  std::vector<char> gone_;                 // per client: dropped from the run
  std::vector<std::optional<PartTensors>> restorable_;  // PerClient, after a resume: the checkpoint's parts
  std::vector<at::Tensor> gradients_;      // per take: the gradient of its activations, for a redo
  std::vector<std::size_t> present_;       // takes whose activations arrived, in take order
  ClientEvents events_;
  std::int64_t last_step_ = 0;
  std::int64_t dropped_ = 0;
  std::vector<std::chrono::steady_clock::time_point> sent_at_;  // per take: its last request or gradient
  std::vector<double> client_s_;                                // per take: its seconds so far
  PhaseSeconds phases_;
};

}  // namespace psl::net
