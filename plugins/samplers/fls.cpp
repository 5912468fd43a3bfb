// Fixed local sampling (FLS): b_k = max(1, round(B / K)) while client k has data.
#include <psl/plugin.hpp>

#include <cmath>

#include "fixed_local.hpp"

namespace {

class FixedLocal : public psl::samplers::FixedLocalSampler {
 public:
  explicit FixedLocal(std::int64_t batch_size) : batch_size_(batch_size) {}

 protected:
  std::int64_t per_step(const psl::ClientState& clients, std::int64_t) const override {
    return std::max<std::int64_t>(1, std::llround(double(batch_size_) / double(clients.num_clients())));
  }

 private:
  std::int64_t batch_size_;
};

}  // namespace

PSL_PLUGIN() {
  registrar.add_sampler({"fls", "fixed local sampling: B/K samples from every client with data left", {}},
                        [](const psl::Context& ctx) { return std::make_unique<FixedLocal>(ctx.batch_size); });
}
