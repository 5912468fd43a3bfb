// Real clients over TCP: owns the server, the client processes `psl run` starts, their
// credentials, and the remote step driver. Built once the trainer exists; returns when
// every client has connected and loaded its data.
#pragma once

#include <memory>

#include "executor.hpp"
#include "manifest.hpp"
#include "net/client_processes.hpp"
#include "net/remote_steps.hpp"
#include "net/server.hpp"
#include "run_settings.hpp"
#include "trainer.hpp"

namespace psl::net {

class TcpExecutor : public StepExecutor {
 public:
  // Throws RunRefused when the settings do not allow the server to start (nothing
  // written), RunError when it cannot start or its clients do not come.
  TcpExecutor(const Experiment& experiment, const RunSettings& settings, Trainer& trainer, std::int64_t num_classes);
  ~TcpExecutor() override;
  StepOutcome execute(const PlannedStep& step) override;
  void stop(const std::string& reason) override;
  void describe(RunSummary& summary) const override;

 private:
  RunSettings settings_;
  std::unique_ptr<TcpServer> server_;
  std::unique_ptr<ClientProcesses> clients_;
  std::unique_ptr<RemoteSteps> remote_;
  std::int64_t lost_samples_ = 0;
};

}  // namespace psl::net
