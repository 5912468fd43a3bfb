#include "time_model.hpp"

#include <algorithm>

namespace psl {

double client_step_time(const ClientTiming& t, std::int64_t samples, double bytes_per_sample) {
  const double bytes = double(samples) * bytes_per_sample;
  return double(samples) * t.compute_s_per_sample + 2.0 * t.latency_s + bytes / t.uplink_bytes_per_s +
         bytes / t.downlink_bytes_per_s;
}

StepTime step_time(std::vector<double> client_times, std::int64_t batch_size, double server_s_per_sample) {
  StepTime out;
  if (client_times.empty()) return out;
  std::sort(client_times.begin(), client_times.end());
  const std::size_t n = client_times.size();
  const double median = n % 2 ? client_times[n / 2] : 0.5 * (client_times[n / 2 - 1] + client_times[n / 2]);
  out.total_s = client_times.back() + double(batch_size) * server_s_per_sample;
  out.straggler_wait_s = client_times.back() - median;
  return out;
}

}  // namespace psl
