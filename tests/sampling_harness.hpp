// Runs a sampler through the host's StepPlanner on a synthetic partition, as `psl sample` does.
#pragma once

#include <catch2/catch.hpp>

#include "psl/api/delay_model.hpp"
#include "psl/api/sampler.hpp"
#include "step_planner.hpp"
#include "support.hpp"

namespace psl::test {

inline Params defaults_for(Kind kind, const std::string& type, std::map<std::string, ParamValue> params = {}) {
  const Component* c = bundled().find(kind, type);
  REQUIRE(c != nullptr);
  for (const auto& p : c->info.params)
    if (!params.count(p.name) && p.default_value) params[p.name] = *p.default_value;
  return Params(params);
}

struct Harness {
  std::vector<std::int32_t> labels;
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<DelayModel> delay;
  std::unique_ptr<StepPlanner> planner;

  // sizes[k] samples for client k; labels cycle through `classes` (or, with
  // one_class_per_client, client k holds only class k mod classes). label_aware: the
  // sampler may see label histograms.
  Harness(const std::string& sampler_type, const std::vector<std::int64_t>& sizes, std::int64_t batch_size,
          std::map<std::string, ParamValue> sampler_params = {}, const std::string& delay_type = "constant",
          std::map<std::string, ParamValue> delay_params = {}, std::uint64_t seed = 1, double deadline = 0,
          std::int64_t classes = 10, bool one_class_per_client = false, bool label_aware = false) {
    Partition partition;
    std::int64_t next = 0;
    for (auto n : sizes) {
      partition.emplace_back();
      for (std::int64_t i = 0; i < n; ++i) {
        partition.back().push_back(next);
        labels.push_back(std::int32_t((one_class_per_client ? std::int64_t(partition.size() - 1) : next) % classes));
        ++next;
      }
    }
    Context ctx;
    ctx.seed = seed;
    ctx.batch_size = batch_size;
    ctx.num_clients = std::int64_t(sizes.size());
    ctx.params = defaults_for(Kind::Sampler, sampler_type, sampler_params);
    sampler = bundled().make<Sampler>(Kind::Sampler, sampler_type, ctx);
    ctx.params = defaults_for(Kind::Delay, delay_type, delay_params);
    delay = bundled().make<DelayModel>(Kind::Delay, delay_type, ctx);
    Rng rng(seed);
    delay->setup(std::int64_t(sizes.size()), rng);
    PlannerConfig pc;
    pc.batch_size = batch_size;
    pc.num_classes = classes;
    pc.bytes_per_sample = 1000;
    pc.step_deadline_s = deadline;
    pc.label_aware = label_aware;
    pc.seed = seed;
    pc.sampler_name = sampler_type;
    planner = std::make_unique<StepPlanner>(std::move(partition), labels, *sampler, *delay, pc);
  }

  std::vector<PlannedStep> epoch(std::int64_t e) {
    planner->begin_epoch(e);
    std::vector<PlannedStep> steps;
    while (!planner->epoch_done()) steps.push_back(planner->next());
    return steps;
  }
};

}  // namespace psl::test
