// The delay model: how long each client takes to compute and to talk to the server.
// The host turns these numbers into step times (docs/time-model.md):
//   step = max over active k of [ b_k * compute_k + 2 * latency_k
//                                 + up_bytes_k / uplink_k + down_bytes_k / downlink_k ]
//          + B * server_compute
#pragma once

#include <cstdint>

#include "psl/random.hpp"

namespace psl {

struct ClientTiming {
  double compute_s_per_sample = 0;  // client part, forward and backward
  double latency_s = 0;             // one way, paid once up and once down per step
  double uplink_bytes_per_s = 1;
  double downlink_bytes_per_s = 1;
};

class DelayModel {
 public:
  virtual ~DelayModel();
  // Draws the per-client profiles (which clients are slow, their speeds).
  virtual void setup(std::int64_t num_clients, Rng& rng) = 0;
  // The client's expected timing; samplers' latency estimates come from it.
  virtual ClientTiming expected(std::int64_t client) const = 0;
  // The client's timing in one step; by default the expected one. Models with per-step
  // randomness draw from `rng`, which the host reseeds at every epoch start.
  virtual ClientTiming draw(std::int64_t client, Rng& rng) const;
  virtual double server_s_per_sample() const = 0;

  // Availability on the virtual clock (docs/time-model.md, "Availability"). A model whose
  // clients come and go says so here; the host then asks next_online_s before each step
  // and lets samplers draw from the online clients only.
  virtual bool has_availability() const;  // default: false, every client always online
  // The earliest time >= t_s at which `client` is online: t_s if it is online at t_s,
  // infinity if never again.
  virtual double next_online_s(std::int64_t client, double t_s) const;
};

}  // namespace psl
