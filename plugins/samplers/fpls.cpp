// Fixed proportional local sampling (FPLS): b_k = max(1, round(B * N_k / N)) while
// client k has data. Rounding makes sum b_k differ from B in general.
#include <psl/plugin.hpp>

#include <cmath>

#include "fixed_local.hpp"

namespace {

class FixedProportionalLocal : public psl::samplers::FixedLocalSampler {
 public:
  explicit FixedProportionalLocal(std::int64_t batch_size) : batch_size_(batch_size) {}

 protected:
  std::int64_t per_step(const psl::ClientState& clients, std::int64_t k) const override {
    const double share = double(clients.total(k)) / double(clients.total_samples());
    return std::max<std::int64_t>(1, std::llround(double(batch_size_) * share));
  }

 private:
  std::int64_t batch_size_;
};

}  // namespace

PSL_PLUGIN() {
  registrar.add_sampler(
      {"fpls", "fixed proportional local sampling: B*N_k/N samples from every client with data left", {}},
      [](const psl::Context& ctx) { return std::make_unique<FixedProportionalLocal>(ctx.batch_size); });
}
