// Delay models as a base timing (compute, latency, bandwidth) scaled per client by a
// slowdown factor f: compute and latency times f, bandwidth divided by f. Subclasses
// say how f is drawn; with per_step = true it is redrawn for every client every step.
// Every one can also let clients come and go (alternating_availability.hpp).
#pragma once

#include <psl/api/delay_model.hpp>
#include <psl/plugin.hpp>

#include <random>

#include "alternating_availability.hpp"
#include <vector>

namespace psl::delays {

inline std::vector<ParamSpec> base_params(bool with_per_step) {
  std::vector<ParamSpec> specs = {
      param_float("compute_s_per_sample", 0.0005, "client seconds per sample, forward and backward").at_least(0),
      param_float("latency_s", 0.01, "one-way link latency in seconds").at_least(0),
      param_float("bandwidth_mbps", 100.0, "link bandwidth in Mbit/s, each direction").at_least(1e-9),
      param_float("server_s_per_sample", 0.00001, "server seconds per sample of the global batch").at_least(0),
      param_float("mean_offline_s", 0.0, "availability: mean offline period in seconds; 0: always online").at_least(0),
      param_float("mean_online_s", 60.0, "availability: mean online period in seconds").at_least(1e-9),
      param_float("always_online_fraction", 0.0, "availability: share of clients never offline").at_least(0).at_most(1),
  };
  if (with_per_step)
    specs.push_back(param_bool("per_step", false, "redraw every client's factor at every step"));
  return specs;
}

// A model's own parameters followed by the base ones.
inline std::vector<ParamSpec> with(std::vector<ParamSpec> own, bool per_step = true) {
  auto base = base_params(per_step);
  own.insert(own.end(), base.begin(), base.end());
  return own;
}

class SlowdownModel : public DelayModel {
 public:
  explicit SlowdownModel(const Context& ctx)
      : base_{ctx.params.get_float("compute_s_per_sample"), ctx.params.get_float("latency_s"),
              ctx.params.get_float("bandwidth_mbps") * 1e6 / 8, ctx.params.get_float("bandwidth_mbps") * 1e6 / 8},
        server_(ctx.params.get_float("server_s_per_sample")),
        per_step_(ctx.params.has("per_step") && ctx.params.get_bool("per_step")),
        availability_(ctx.params.get_float("mean_online_s"), ctx.params.get_float("mean_offline_s"),
                      ctx.params.get_float("always_online_fraction")) {}

  void setup(std::int64_t num_clients, Rng& rng) override {
    factors_.assign(num_clients, 1.0);
    if (!per_step_)
      for (auto& f : factors_) f = draw_factor(rng);
    availability_.setup(num_clients, rng);  // after the factors: they stay as without availability
  }
  ClientTiming expected(std::int64_t client) const override {
    return scaled(per_step_ ? mean_factor() : factors_.at(client));
  }
  ClientTiming draw(std::int64_t client, Rng& rng) const override {
    return per_step_ ? scaled(draw_factor(rng)) : expected(client);
  }
  double server_s_per_sample() const override { return server_; }
  bool has_availability() const override { return availability_.enabled(); }
  double next_online_s(std::int64_t client, double t_s) const override {
    return availability_.next_online_s(client, t_s);
  }

  double factor(std::int64_t client) const { return factors_.at(client); }

 protected:
  virtual double draw_factor(Rng& rng) const = 0;
  virtual double mean_factor() const = 0;
  std::vector<double> factors_;

 private:
  ClientTiming scaled(double f) const {
    return {base_.compute_s_per_sample * f, base_.latency_s * f, base_.uplink_bytes_per_s / f,
            base_.downlink_bytes_per_s / f};
  }
  ClientTiming base_;
  double server_;
  bool per_step_;
  AlternatingAvailability availability_;
};

}  // namespace psl::delays
