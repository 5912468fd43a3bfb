// The virtual clock's arithmetic (docs/time-model.md).
#pragma once

#include <cstdint>
#include <vector>

#include "psl/api/delay_model.hpp"

namespace psl {

// Seconds for one client to take part in a step with `samples` samples: compute, then
// activations up and gradients down (each `bytes_per_sample` per sample), each link
// paying its latency once.
double client_step_time(const ClientTiming& timing, std::int64_t samples, double bytes_per_sample);

struct StepTime {
  double total_s = 0;            // slowest active client + server compute
  double straggler_wait_s = 0;   // slowest minus median active client
};

// `client_times` are the active clients' times from client_step_time().
StepTime step_time(std::vector<double> client_times, std::int64_t batch_size, double server_s_per_sample);

}  // namespace psl
