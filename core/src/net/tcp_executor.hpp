// Real clients over TCP: owns the server, the client processes `psl run` starts, their
// credentials, and a trainer whose client parts live in the clients
// (remote_client_parts.cpp). Returns from construction when every client has connected
// and loaded its data.
#pragma once

#include <memory>

#include "executor.hpp"
#include "manifest.hpp"
#include "net/client_processes.hpp"
#include "net/remote_client_parts.hpp"
#include "net/emulated_network.hpp"
#include "net/server.hpp"
#include "run_settings.hpp"

namespace psl::net {

class TcpExecutor : public StepExecutor {
 public:
  // Throws RunRefused when the settings do not allow the server to start (nothing
  // written), RunError when it cannot start or its clients do not come.
  TcpExecutor(const Experiment& experiment, const RunSettings& settings, TrainingSetup setup, std::int64_t num_classes);
  ~TcpExecutor() override;
  StepOutcome execute(const PlannedStep& step) override;
  void stop(const std::string& reason) override;
  void describe(RunSummary& summary) const override;
  Trainer* trainer() override { return trainer_.get(); }

 private:
  RunSettings settings_;
  std::unique_ptr<EmulatedNetwork> network_;  // transport.emulate_network: outlives server and clients
  std::unique_ptr<TcpServer> server_;
  std::unique_ptr<ClientProcesses> clients_;
  RemoteClientParts* remote_ = nullptr;  // owned by the trainer
  std::unique_ptr<Trainer> trainer_;
  std::int64_t lost_samples_ = 0;
  double server_s_ = 0;  // wall seconds of the steps outside the clients' phases
  std::vector<double> observed_s_, observed_steps_;  // per client: seconds and steps observed
};

}  // namespace psl::net
