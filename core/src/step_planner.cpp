#include "step_planner.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "latency_estimates.hpp"
#include "protocol_plan.hpp"
#include "time_model.hpp"

namespace psl {

// What the sampler may see: counts and latency estimates, histograms only if allowed.
class StepPlanner::Clients : public ClientState {
 public:
  Clients(const Partition& partition, const std::vector<std::vector<std::int64_t>>* histograms,
          const DelayModel& delay, double bytes_per_sample)
      : histograms_(histograms), delay_(delay), bytes_per_sample_(bytes_per_sample),
        observed_(std::int64_t(partition.size())) {
    for (const auto& p : partition) {
      totals_.push_back(std::int64_t(p.size()));
      total_ += std::int64_t(p.size());
    }
    reset();
  }
  void reset() {
    remaining_ = totals_;
    total_remaining_ = total_;
  }
  void take(std::int64_t k, std::int64_t n) {
    remaining_[k] -= n;
    total_remaining_ -= n;
  }

  std::int64_t num_clients() const override { return std::int64_t(totals_.size()); }
  std::int64_t total(std::int64_t k) const override { return totals_.at(k); }
  std::int64_t remaining(std::int64_t k) const override { return remaining_.at(k); }
  std::int64_t total_samples() const override { return total_; }
  std::int64_t total_remaining() const override { return total_remaining_; }
  double expected_latency_s(std::int64_t k, std::int64_t samples) const override {
    if (observed_.known(k)) return observed_.expected(k, samples);
    return client_step_time(delay_.expected(k), samples, bytes_per_sample_);
  }
  LatencyEstimates& observed() { return observed_; }
  bool all_online() const override { return all_online_; }
  bool online(std::int64_t k) const override { return all_online_ || online_[std::size_t(k)]; }
  // Who is online at `t_s`; returns how many. Without availability, nothing to do.
  std::int64_t refresh_online(double t_s) {
    if (!delay_.has_availability()) return num_clients();
    online_.resize(totals_.size());
    std::int64_t n = 0;
    for (std::size_t k = 0; k < totals_.size(); ++k) n += online_[k] = delay_.next_online_s(std::int64_t(k), t_s) <= t_s;
    all_online_ = n == num_clients();
    return n;
  }
  bool any_online_with_data() const {
    for (std::size_t k = 0; k < totals_.size(); ++k)
      if (remaining_[k] > 0 && online(std::int64_t(k))) return true;
    return false;
  }
  const std::vector<std::int64_t>* label_histogram(std::int64_t k) const override {
    return histograms_ ? &histograms_->at(k) : nullptr;
  }

 private:
  std::vector<std::int64_t> totals_, remaining_;
  std::int64_t total_ = 0, total_remaining_ = 0;
  const std::vector<std::vector<std::int64_t>>* histograms_;
  const DelayModel& delay_;
  double bytes_per_sample_;
  LatencyEstimates observed_;  // real clients only
  std::vector<char> online_;   // with availability: per client, at the current step
  bool all_online_ = true;
};

void StepPlanner::observe_latency(std::int64_t client, std::int64_t samples, double seconds) {
  clients_->observed().observe(client, samples, seconds);
}

void shuffle_client_order(std::vector<std::int64_t>& shard, std::uint64_t seed, std::int64_t epoch,
                          std::int64_t client) {
  std::sort(shard.begin(), shard.end());
  Rng rng = make_rng(seed, "data-order", (std::uint64_t(epoch) << 32) ^ std::uint64_t(client));
  std::shuffle(shard.begin(), shard.end(), rng);
}

StepPlanner::StepPlanner(Partition partition, const std::vector<std::int32_t>& labels, Sampler& sampler,
                         DelayModel& delay, PlannerConfig config)
    : labels_(labels), sampler_(sampler), delay_(delay), config_(std::move(config)), order_(std::move(partition)) {
  const auto C = std::size_t(config_.num_classes);
  train_distribution_.assign(C, 0.0);
  histograms_.assign(order_.size(), std::vector<std::int64_t>(C, 0));
  std::int64_t n = 0;
  for (std::size_t k = 0; k < order_.size(); ++k) {
    for (auto i : order_[k]) ++histograms_[k][std::size_t(labels_[std::size_t(i)])];
    n += std::int64_t(order_[k].size());
  }
  for (const auto& h : histograms_)
    for (std::size_t c = 0; c < C; ++c) train_distribution_[c] += double(h[c]) / double(n);
  clients_ = std::make_unique<Clients>(order_, config_.label_aware ? &histograms_ : nullptr, delay_,
                                       config_.bytes_per_sample);
  seen_at_step_.assign(order_.size(), -1);
  dropped_.assign(order_.size(), 0);
}

StepPlanner::~StepPlanner() = default;

std::string StepPlanner::sampler_context() const {
  const auto& c = config_;
  return fmt::format("sampler '{}'{}, epoch {}, step {}", c.sampler_name,
                     c.sampler_library.empty() ? "" : " (" + c.sampler_library + ")", epoch_, global_step_);
}

template <class Call>
auto StepPlanner::call_sampler(Call&& call) -> decltype(call()) {
  try {
    return call();
  } catch (const std::exception& e) {
    throw SamplerError(fmt::format("{}: {}", sampler_context(), e.what()));
  }
}

void StepPlanner::begin_epoch(std::int64_t epoch) {
  epoch_ = epoch;
  for (std::size_t k = 0; k < order_.size(); ++k) shuffle_client_order(order_[k], config_.seed, epoch, std::int64_t(k));
  clients_->reset();
  sampler_rng_ = make_rng(config_.seed, "sampler", std::uint64_t(epoch));
  delay_rng_ = make_rng(config_.seed, "delay-step", std::uint64_t(epoch));
  call_sampler([&] { sampler_.begin_epoch(*clients_, sampler_rng_); });
}

bool StepPlanner::epoch_done() const { return clients_->total_remaining() == 0; }

double StepPlanner::wait_for_clients() {
  online_now_ = clients_->refresh_online(clock_s_);
  if (online_now_ == clients_->num_clients() || clients_->any_online_with_data()) return 0;
  // Nobody online holds data: the epoch waits for the first client with data to come back.
  double back = INFINITY;
  std::int64_t holders = 0;
  for (std::int64_t k = 0; k < clients_->num_clients(); ++k) {
    if (clients_->remaining(k) == 0 || dropped_[std::size_t(k)]) continue;
    ++holders;
    back = std::min(back, delay_.next_online_s(k, clock_s_));
  }
  if (holders == 0) return 0;  // only dropped clients hold data: their takes are discarded
  if (!std::isfinite(back))
    throw SamplerError(fmt::format("epoch {}, step {}: {} clients hold the epoch's remaining {} samples, but the delay "
                                   "model brings none of them online again after {:g} s; the epoch cannot end",
                                   epoch_, global_step_, holders, clients_->total_remaining(), clock_s_));
  const double waited = back - clock_s_;
  clock_s_ = back;
  online_now_ = clients_->refresh_online(clock_s_);
  return waited;
}

PlannedStep StepPlanner::next() {
  const double waited = wait_for_clients();
  std::vector<Take> takes = call_sampler([&] { return sampler_.next_step(*clients_, sampler_rng_); });
  if (takes.empty())
    throw SamplerError(fmt::format("{}: returned an empty step with {} samples left", sampler_context(),
                                   clients_->total_remaining()));
  for (const auto& t : takes) {
    if (t.client < 0 || t.client >= clients_->num_clients())
      throw SamplerError(fmt::format("{}: chose client {}, but there are {} clients", sampler_context(), t.client,
                                     clients_->num_clients()));
    if (t.count <= 0 || t.count > clients_->remaining(t.client))
      throw SamplerError(fmt::format("{}: took {} samples from client {}, which has {} left", sampler_context(),
                                     t.count, t.client, clients_->remaining(t.client)));
    if (!clients_->online(t.client))
      throw SamplerError(fmt::format("{}: took from client {}, which is offline at {:g} s", sampler_context(),
                                     t.client, clock_s_));
    if (seen_at_step_[std::size_t(t.client)] == global_step_)
      throw SamplerError(fmt::format("{}: chose client {} twice in one step", sampler_context(), t.client));
    seen_at_step_[std::size_t(t.client)] = global_step_;
  }

  // Price every contribution; with a deadline, defer the clients that would miss it
  // (unless all would: then the step waits for everyone, so the epoch always ends).
  std::vector<double> times;
  times.reserve(takes.size());
  for (const auto& t : takes)
    times.push_back(client_step_time(delay_.draw(t.client, delay_rng_), t.count, config_.bytes_per_sample));
  PlannedStep step;
  step.epoch = epoch_;
  step.step = global_step_;
  std::vector<double> kept_times;
  const bool any_meets = config_.step_deadline_s <= 0 ||
                         std::any_of(times.begin(), times.end(), [&](double t) { return t <= config_.step_deadline_s; });
  for (std::size_t i = 0; i < takes.size(); ++i) {
    if (dropped_[std::size_t(takes[i].client)]) {
      clients_->take(takes[i].client, takes[i].count);
      step.lost += takes[i].count;
      continue;
    }
    if (config_.step_deadline_s > 0 && any_meets && times[i] > config_.step_deadline_s) {
      call_sampler([&] { sampler_.give_back(takes[i]); });
      ++step.deferred;
      continue;
    }
    step.takes.push_back(takes[i]);
    kept_times.push_back(times[i]);
  }

  // The samples: the next `count` of each client's order for this epoch.
  std::vector<std::int64_t> class_counts(std::size_t(config_.num_classes), 0);
  for (const auto& t : step.takes) {
    const auto& order = order_[std::size_t(t.client)];
    const std::int64_t used = clients_->total(t.client) - clients_->remaining(t.client);
    step.offsets.push_back(used);
    for (std::int64_t j = used; j < used + t.count; ++j) {
      const std::int64_t idx = order[std::size_t(j)];
      step.indices.push_back(idx);
      ++class_counts[std::size_t(labels_[std::size_t(idx)])];
    }
    clients_->take(t.client, t.count);
    step.batch_size += t.count;
  }
  for (std::size_t c = 0; c < class_counts.size() && step.batch_size > 0; ++c)
    step.batch_deviation += std::abs(double(class_counts[c]) / double(step.batch_size) - train_distribution_[c]);
  if (protocol_) {
    protocol_->plan(step, kept_times, delay_.server_s_per_sample());
  } else {
    const StepTime st = step_time(std::move(kept_times), step.batch_size, delay_.server_s_per_sample());
    step.step_time_s = st.total_s;
    step.straggler_wait_s = st.straggler_wait_s;
    step.schedule = one_pass_schedule(step.takes.size());
    step.hand_over_from.push_back(-1);
    step.bytes = cut_layer_bytes(step.batch_size, config_.bytes_per_sample);
  }
  step.availability_wait_s = waited;
  step.step_time_s += waited;  // the clock shows the wait
  step.online_clients = online_now_;
  clock_s_ += step.step_time_s - waited;
  ++global_step_;
  return step;
}

}  // namespace psl
