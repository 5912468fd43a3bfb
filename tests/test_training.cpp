#include <ATen/ATen.h>
#include <catch2/catch.hpp>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/modules/pooling.h>
#include <torch/nn/modules/activation.h>
#include <torch/utils.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "coordinator.hpp"
#include "psl/api/split_model.hpp"
#include "run_folder.hpp"
#include "sampling_harness.hpp"
#include "client_part.hpp"
#include "client_rows.hpp"
#include "convolution_backend.hpp"
#include "batched_client_pass.hpp"
#include "in_process_executor.hpp"
#include "learning_rate.hpp"
#include "local_client_parts.hpp"
#include "stacked_optimizer_step.hpp"
#include "trainer.hpp"

using namespace psl;
using Catch::Matchers::Contains;
using psl::test::metrics_without_wall_time;

namespace {
std::filesystem::path run(const std::string& name, const std::string& extra_training = "",
                          const std::string& sampler = "ugs", std::int64_t stop_after = 0) {
  const auto dir = test::temp_dir(name);
  const auto file = test::write_file(dir, "m.toml", test::small_manifest(extra_training, sampler));
  RunSettings settings;
  settings.out = dir / "run";
  settings.quiet = true;
  settings.stop_after_epochs = stop_after;
  run_experiment(test::load(file), test::bundled(), settings);
  return settings.out;
}

// Continues the run in `dir` from its checkpoint, as `psl run --resume DIR` does.
void resume(const std::filesystem::path& dir) {
  RunSettings settings;
  settings.out = dir;
  settings.resume = true;
  settings.quiet = true;
  run_experiment(test::load(dir / "manifest.toml"), test::bundled(), settings);
}

RunSummary summary(const std::filesystem::path& dir) { return read_run_summary(dir); }

// A bundled model with its default parameters, but those in `params`.
std::unique_ptr<SplitModel> bundled_model(const std::string& type, std::map<std::string, ParamValue> params = {}) {
  Context ctx;
  ctx.params = test::defaults_for(Kind::Model, type, std::move(params));
  return test::bundled().make<SplitModel>(Kind::Model, type, ctx);
}

std::unique_ptr<SplitModel> fmnist_cnn() { return bundled_model("fmnist_cnn"); }

}  // namespace

TEST_CASE("a short synthetic run lowers the loss and writes a complete run folder", "[training]") {
  const auto dir = run("train-loss");
  for (const char* f : {"manifest.toml", "metrics.csv", "summary.json", "partition.csv", "checkpoint.bin"})
    CHECK(std::filesystem::exists(dir / f));
  const auto rows = MetricsLog::read(dir / "metrics.csv");
  std::vector<double> losses;
  for (const auto& r : rows)
    if (r.is_train) losses.push_back(r.loss);
  REQUIRE(losses.size() == 2 * 19);  // 2 epochs of ceil(600 / 32) steps
  const double first = (losses[0] + losses[1] + losses[2]) / 3;
  const double last = (losses[losses.size() - 1] + losses[losses.size() - 2] + losses[losses.size() - 3]) / 3;
  CHECK(last < 0.7 * first);
  const auto s = summary(dir);
  CHECK(s.status == "complete");
  CHECK(s.train_steps == 38);
  CHECK(s.train_samples == 1200);
  CHECK(s.test_accuracy.value() > 0.5);  // 4 classes: chance is 0.25
  // The heap held at least the training data (600 samples of 16 floats) and at most the whole process.
  CHECK(s.peak_heap_mib > 600 * 16 * 4 / (1024.0 * 1024.0));
  CHECK(s.peak_heap_mib <= s.peak_rss_mib);
  // The keys SPEC.md promises, in the file itself.
  std::ifstream in(dir / "summary.json");
  const auto j = nlohmann::json::parse(in);
  for (const char* key : {"name", "sampler", "num_clients", "batch_size", "seed", "epochs", "train_steps",
                          "test_accuracy", "test_loss", "simulated_time_s", "wall_time_s", "samples_per_s",
                          "mean_batch_deviation"})
    CHECK(j.contains(key));
}

TEST_CASE("the same manifest and seed give the same metrics, wall time aside", "[training][determinism]") {
  const auto a = metrics_without_wall_time(run("determinism-a"));
  const auto b = metrics_without_wall_time(run("determinism-b"));
  CHECK(a == b);
  const auto c = metrics_without_wall_time(run("determinism-c", "", "lds"));
  CHECK(a != c);
}

TEST_CASE("a resumed run ends with the same numbers as an uninterrupted one", "[training][resume]") {
  const auto full = run("resume-full");
  const auto part = run("resume-part", "", "ugs", 1);
  CHECK(summary(part).epochs_completed == 1);
  // Rows written after the checkpoint (a kill mid-epoch) must not survive the resume.
  std::ofstream(part / "metrics.csv", std::ios::app) << "99,1,0.5,0.5,1.0,32,3,0.1,0.1,0,0,,\n";
  resume(part);
  CHECK(metrics_without_wall_time(part) == metrics_without_wall_time(full));
  CHECK(summary(part).test_accuracy == summary(full).test_accuracy);
  // The totals rebuilt from metrics.csv are the uninterrupted run's to the last bit.
  CHECK(summary(part).simulated_time_s == summary(full).simulated_time_s);
  CHECK(summary(part).mean_batch_deviation == summary(full).mean_batch_deviation);
  CHECK(summary(part).straggler_wait_s == summary(full).straggler_wait_s);
}

TEST_CASE("a resumed local-sync run (batched client parts, momentum) ends with the same numbers", "[training][resume]") {
  const std::string local = "client_sync = \"local\"\nmomentum = 0.9\n";
  const auto full = run("resume-local-full", local);
  const auto part = run("resume-local-part", local, "ugs", 1);
  resume(part);
  CHECK(metrics_without_wall_time(part) == metrics_without_wall_time(full));
}

TEST_CASE("a run stopped by max_steps on an evaluation step evaluates it once", "[training]") {
  const auto dir = run("max-steps-eval", "eval_every_steps = 5\nmax_steps = 10\n");
  std::vector<std::int64_t> evaluated;
  for (const auto& r : MetricsLog::read(dir / "metrics.csv"))
    if (!r.is_train) evaluated.push_back(r.step);
  CHECK(evaluated == std::vector<std::int64_t>{4, 9});
  CHECK(summary(dir).train_steps == 10);
}

namespace {
// Random images in memory: a data set for driving a trainer step by step.
class RandomImages : public Dataset {
 public:
  explicit RandomImages(std::int64_t n) : x_(torch::randn({n, 1, 28, 28})) {
    for (std::int64_t i = 0; i < n; ++i) y_.push_back(std::int32_t((i * 7) % 10));
  }
  std::int64_t num_classes() const override { return 10; }
  std::vector<std::int64_t> sample_shape() const override { return {1, 28, 28}; }
  const std::vector<std::int32_t>& labels(Split) const override { return y_; }
  at::Tensor features(Split, const std::vector<std::int64_t>& idx) const override {
    return x_.index_select(0, torch::tensor(idx));
  }

 private:
  at::Tensor x_;
  std::vector<std::int32_t> y_;
};

// A step of `takes` over consecutive samples from `first`.
PlannedStep consecutive_step(std::int64_t step, const std::vector<Take>& takes, std::int64_t first) {
  PlannedStep s;
  s.step = step;
  s.takes = takes;
  for (const auto& t : takes)
    for (std::int64_t i = 0; i < t.count; ++i) s.indices.push_back(first++);
  return s;
}
}  // namespace

TEST_CASE("fused and per-client client passes give the same parameters", "[training][fused]") {
  Context ctx;
  ctx.params = test::defaults_for(Kind::Model, "fmnist_cnn");
  auto model = test::bundled().make<SplitModel>(Kind::Model, "fmnist_cnn", ctx);
  torch::manual_seed(4);
  const RandomImages data(48);
  auto executor = [&](bool fused) {
    torch::manual_seed(3);
    TrainingSettings t;
    t.clients = 3;
    t.fused = fused;
    t.momentum = 0.9;
    auto net = model->build(data.sample_shape(), 10);
    const auto shape = measure_activation_shape(net.client, data.sample_shape());
    return std::make_unique<InProcessExecutor>(data, TrainingSetup{*model, net, shape, {10, 10, 10}, t});
  };
  auto fused = executor(true), split = executor(false);
  const std::vector<Take> takes = {{0, 5}, {1, 2}, {2, 9}};
  for (int step = 0; step < 3; ++step) {
    const auto plan = consecutive_step(step, takes, 16 * step);
    CHECK(fused->execute(plan).loss == Approx(split->execute(plan).loss).epsilon(1e-5));
  }
  const auto a = fused->trainer()->parameters(), b = split->trainer()->parameters();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(at::allclose(a[i], b[i], 1e-4, 1e-6));
}

TEST_CASE("a scaled learning rate trains as a run built with that rate, server and clients", "[training][lr]") {
  auto model = fmnist_cnn();
  torch::manual_seed(4);
  const RandomImages data(48);
  struct Layout {
    const char* name;
    ClientSync sync;
    bool fused;
    bool server_per_client;
  };
  // Shared (one batch), local batched (the stacked step), local client by client, and a
  // server copy per client (SplitFed V1).
  for (const Layout layout : {Layout{"shared", ClientSync::Shared, true, false},
                              Layout{"local batched", ClientSync::Local, true, false},
                              Layout{"local per client", ClientSync::Local, false, false},
                              Layout{"server per client", ClientSync::Local, true, true}}) {
    for (const auto kind : {OptimizerKind::Sgd, OptimizerKind::Adam}) {
      INFO(layout.name << ", " << to_string(kind));
      auto executor = [&](double lr) {
        torch::manual_seed(3);
        TrainingSettings t;
        t.clients = 3;
        t.client_sync = layout.sync;
        t.fused = layout.fused;
        t.optimizer = kind;
        t.lr = lr;
        t.momentum = kind == OptimizerKind::Sgd ? 0.9 : 0.0;
        auto net = model->build(data.sample_shape(), 10);
        const auto shape = measure_activation_shape(net.client, data.sample_shape());
        const ProtocolShape protocol{layout.sync == ClientSync::Shared ? PartLayout::Shared : PartLayout::PerClient,
                                     layout.server_per_client};
        return std::make_unique<InProcessExecutor>(
            data, TrainingSetup{*model, net, shape, {10, 10, 10}, t, protocol, data.sample_shape(), 10});
      };
      // 0.1 x 0.25 and 0.025 are the same double (a power of two apart from 0.1's).
      auto scaled = executor(0.1), built = executor(0.025), unscaled = executor(0.1);
      scaled->trainer()->scale_learning_rate(0.5);
      scaled->trainer()->scale_learning_rate(0.25);  // of the rate as built, not of the last one
      const std::vector<Take> takes = {{0, 5}, {1, 2}, {2, 9}};
      for (int step = 0; step < 3; ++step) {
        const auto plan = consecutive_step(step, takes, 16 * step);
        scaled->execute(plan);
        built->execute(plan);
        unscaled->execute(plan);
      }
      const auto a = scaled->trainer()->parameters(), b = built->trainer()->parameters(),
                 c = unscaled->trainer()->parameters();
      REQUIRE(a.size() == b.size());
      bool all_equal = true, any_moved_differently = false;
      for (std::size_t i = 0; i < a.size(); ++i) {
        all_equal = all_equal && at::equal(a[i], b[i]);
        any_moved_differently = any_moved_differently || !at::equal(a[i], c[i]);
      }
      CHECK(all_equal);
      CHECK(any_moved_differently);  // the scale took effect at all
    }
  }
}

TEST_CASE("the cosine schedule runs from lr to zero", "[training][lr]") {
  CHECK(lr_factor(LrSchedule::Constant, 0.7) == 1.0);
  CHECK(lr_factor(LrSchedule::Cosine, 0.0) == 1.0);
  CHECK(lr_factor(LrSchedule::Cosine, 0.5) == Approx(0.5));
  CHECK(lr_factor(LrSchedule::Cosine, 0.25) == Approx((1 + std::sqrt(0.5)) / 2));
  CHECK(lr_factor(LrSchedule::Cosine, 1.0) == Approx(0.0).margin(1e-15));
}

TEST_CASE("a cosine run differs from a constant one and resumes to the same numbers", "[training][lr][resume]") {
  const std::string cosine = "lr_schedule = \"cosine\"\n";
  const auto full = run("lr-cosine-full", cosine);
  CHECK(metrics_without_wall_time(full) != metrics_without_wall_time(run("lr-constant")));
  CHECK(test::read_text(full / "manifest.toml").find("lr_schedule = 'cosine'") != std::string::npos);
  const auto part = run("lr-cosine-part", cosine, "ugs", 1);
  resume(part);
  CHECK(metrics_without_wall_time(part) == metrics_without_wall_time(full));
}

TEST_CASE("a client part's state round-trips through plain tensors, optimizer state included", "[training]") {
  for (const auto kind : {OptimizerKind::Sgd, OptimizerKind::Adam}) {
    INFO(to_string(kind));
    auto model = fmnist_cnn();
    const OptimizerSettings o{kind, 0.05, 0.9, 0.001};
    torch::manual_seed(5);
    ClientPart a(model->build({1, 28, 28}, 10).client, o), b(model->build({1, 28, 28}, 10).client, o);
    const auto x = torch::randn({4, 1, 28, 28});
    auto train = [&](ClientPart& p) {
      p.optimizer->zero_grad();
      p.module->forward(x).sum().backward();
      p.optimizer->step();
    };
    train(a);
    b.set_state(a.state());  // b now holds a's weights and optimizer state
    train(a);
    train(b);
    const auto wa = a.weights(), wb = b.weights();
    for (std::size_t i = 0; i < wa.size(); ++i) CHECK(at::equal(wa[i], wb[i]));
    auto wrong = a.state();
    wrong.pop_back();
    CHECK_THROWS_AS(b.set_state(wrong), std::invalid_argument);
  }
}

TEST_CASE("a weighted average asked part by part is the same bits as one over parts held at once", "[training][rows]") {
  auto model = fmnist_cnn();
  torch::manual_seed(6);
  std::vector<std::vector<at::Tensor>> parts;
  for (int k = 0; k < 3; ++k) parts.push_back(weights_of(*model->build({1, 28, 28}, 10).client));
  const std::vector<double> weights{0.5, 0.3, 0.2};
  auto held = model->build({1, 28, 28}, 10).client, streamed = model->build({1, 28, 28}, 10).client;
  weighted_average(parts, weights, *held);
  std::vector<std::size_t> asked;
  weighted_average(
      [&](std::size_t k) {
        asked.push_back(k);
        return parts[k];
      },
      weights, *streamed);
  CHECK(asked == std::vector<std::size_t>{0, 1, 2});
  const auto a = weights_of(*held), b = weights_of(*streamed);
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(at::equal(a[i], b[i]));
  CHECK_FALSE(at::equal(a[0], parts[0][0]));  // an average, not a copy of the first part
  CHECK_THROWS_WITH(weighted_average(parts, {0.5, 0.5}, *held), Contains("3 parts but 2 weights"));
}

TEST_CASE("clients' parts kept as rows train exactly as parts of their own", "[training][rows]") {
  for (const auto kind : {OptimizerKind::Sgd, OptimizerKind::Adam}) {
    INFO(to_string(kind));
    auto model = fmnist_cnn();
    const OptimizerSettings o{kind, 0.05, 0.9, 0.001};
    torch::manual_seed(6);
    const ClientPart initial(model->build({1, 28, 28}, 10).client, o);
    ClientRows rows(initial, 3);
    std::vector<std::unique_ptr<ClientPart>> own, working;
    for (int k = 0; k < 3; ++k) {
      own.push_back(std::make_unique<ClientPart>(model->build({1, 28, 28}, 10).client, o));
      own.back()->set_state(initial.state());
      working.push_back(std::make_unique<ClientPart>(model->build({1, 28, 28}, 10).client, o));
    }
    const auto train = [](ClientPart& p, const at::Tensor& x) {
      p.optimizer->zero_grad();
      p.module->forward(x).pow(2).sum().backward();
      p.optimizer->step();
    };
    // Steps with different clients; within a step each take has its own working part,
    // and a working part serves another client in the next step.
    const std::vector<std::vector<std::int64_t>> steps{{0, 2}, {1}, {2, 0, 1}, {1, 2}};
    for (const auto& clients : steps) {
      for (std::size_t i = 0; i < clients.size(); ++i) {
        const auto x = torch::randn({3, 1, 28, 28});
        rows.bind(clients[i], *working[i]);
        train(*working[i], x);
        rows.keep_optimizer_state(clients[i], *working[i]);
        train(*own[std::size_t(clients[i])], x);
      }
    }
    for (std::int64_t k = 0; k < 3; ++k) {
      const auto a = rows.weights(k), b = own[std::size_t(k)]->weights();
      REQUIRE(a.size() == b.size());
      for (std::size_t i = 0; i < a.size(); ++i) CHECK(at::equal(a[i], b[i]));
      // Bound again, a working part holds the client's optimizer state too.
      rows.bind(k, *working[0]);
      const auto sa = working[0]->optimizer_state(), sb = own[std::size_t(k)]->optimizer_state();
      for (std::size_t i = 0; i < sa.size(); ++i) CHECK(at::equal(sa[i], sb[i]));
    }
    // A hand-over moves weights only; storing a part writes both.
    rows.copy_weights(0, 1);
    CHECK(at::equal(rows.weights(1)[0], own[0]->weights()[0]));
    rows.store(2, *own[1]);
    CHECK(at::equal(rows.weights(2)[0], own[1]->weights()[0]));
    rows.bind(2, *working[1]);
    CHECK(at::equal(working[1]->optimizer_state()[0], own[1]->optimizer_state()[0]));
  }
}

namespace {
// A client part with the layers the batched pass knows but the bundled models lack:
// a convolution without bias, GroupNorm, LeakyReLU, average pooling; a linear layer on
// 4-d activations.
class GroupNormNet : public SplitModel {
 public:
  SplitNetwork build(const std::vector<std::int64_t>&, std::int64_t classes) const override {
    namespace nn = torch::nn;
    SplitNetwork net;
    net.client->push_back(nn::Conv2d(nn::Conv2dOptions(1, 8, 3).padding(1).stride(2).bias(false)));
    net.client->push_back(nn::GroupNorm(nn::GroupNormOptions(2, 8)));
    net.client->push_back(nn::LeakyReLU());
    net.client->push_back(nn::AvgPool2d(2));
    net.client->push_back(nn::Linear(7, 5));
    net.server->push_back(nn::Flatten());
    net.server->push_back(nn::Linear(8 * 7 * 5, classes));
    return net;
  }
};
}  // namespace

TEST_CASE("a batched step trains every client's part as a pass of its own would", "[training][batched]") {
  std::vector<std::pair<std::string, std::unique_ptr<SplitModel>>> models;
  models.emplace_back("fmnist_cnn", fmnist_cnn());
  models.emplace_back("mlp", bundled_model("mlp", {{"hidden", ParamValue(std::vector<std::int64_t>{24, 16})}}));
  models.emplace_back("groupnorm", std::make_unique<GroupNormNet>());
  torch::manual_seed(8);
  const RandomImages data(64);
  for (const auto& [name, model] : models) {
    // Adam divides by the gradient's own size, so where a gradient is near zero its
    // rounding (summed in another order here) can move a weight by up to lr: on the mlp
    // and GroupNorm parts the weights differed by up to 0.015 after four steps. Adam is
    // compared end to end on fmnist_cnn, where they stay within the tolerance; the next
    // test checks the stacked Adam step itself on equal gradients.
    const std::vector<OptimizerKind> kinds = {OptimizerKind::Sgd, OptimizerKind::Adam};
    for (const auto kind : name == "fmnist_cnn" ? kinds : std::vector<OptimizerKind>{OptimizerKind::Sgd}) {
      INFO(name << ", " << to_string(kind));
      const OptimizerSettings o{kind, 0.05, kind == OptimizerKind::Sgd ? 0.9 : 0.0, 0.001};
      torch::manual_seed(9);
      const auto initial = model->build(data.sample_shape(), 10).client;
      LocalClientParts batched(*model, initial, data, 4, PartLayout::PerClient, o, true);
      LocalClientParts alone(*model, initial, data, 4, PartLayout::PerClient, o, false);
      // Clients join in later steps (their first optimizer step in a batch beside
      // clients with state), takes of different sizes, a client left out.
      const std::vector<std::vector<Take>> steps = {{{0, 5}, {2, 1}}, {{1, 3}, {0, 2}, {2, 6}}, {{2, 2}, {1, 1}},
                                                    {{3, 4}, {0, 1}, {1, 2}}};
      std::int64_t first = 0;
      for (std::size_t s = 0; s < steps.size(); ++s) {
        const auto step = consecutive_step(std::int64_t(s), steps[s], first);
        first += std::int64_t(step.indices.size());
        const auto a = batched.forward(step), b = alone.forward(step);
        REQUIRE(a.pieces.size() == 1);  // one computation for every take
        REQUIRE(b.pieces.size() == steps[s].size());
        const auto joined = at::cat(b.pieces);
        CHECK(at::allclose(a.pieces[0], joined, 1e-4, 1e-5));
        const auto gradient = torch::randn_like(joined);
        batched.backward(step, {gradient});
        std::vector<at::Tensor> per_take;
        std::int64_t at = 0;
        for (const auto& t : steps[s]) per_take.push_back(gradient.narrow(0, std::exchange(at, at + t.count), t.count));
        alone.backward(step, per_take);
      }
      for (std::size_t k = 0; k < 4; ++k) {
        std::vector<double> only(4, 0.0);
        only[k] = 1.0;  // the "average" that is client k's part
        const auto wa = weights_of(*batched.evaluation_part(only)), wb = weights_of(*alone.evaluation_part(only));
        for (std::size_t i = 0; i < wa.size(); ++i) CHECK(at::allclose(wa[i], wb[i], 1e-4, 1e-6));
      }
    }
  }
}

TEST_CASE("one stacked optimizer step is each client's own optimizer step", "[training][batched]") {
  for (const auto kind : {OptimizerKind::Sgd, OptimizerKind::Adam}) {
    INFO(to_string(kind));
    const OptimizerSettings o{kind, 0.05, 0.9, 0.001};
    torch::manual_seed(11);
    // Three clients: two steps behind them, one, none (no optimizer state yet).
    std::vector<std::unique_ptr<ClientPart>> parts;
    for (int k = 0; k < 3; ++k) parts.push_back(std::make_unique<ClientPart>(torch::nn::Sequential(torch::nn::Linear(5, 4)), o));
    const auto step = [](ClientPart& p, const std::vector<at::Tensor>& grads) {
      p.optimizer->zero_grad();
      for (std::size_t i = 0; i < grads.size(); ++i) p.module->parameters()[i].mutable_grad() = grads[i].clone();
      p.optimizer->step();
    };
    for (int k = 0; k < 2; ++k)
      for (int s = k; s < 2; ++s) step(*parts[std::size_t(k)], {torch::randn({4, 5}), torch::randn({4})});
    ClientRows rows(*parts[2], 3);
    for (std::int64_t k = 0; k < 3; ++k) rows.store(k, *parts[std::size_t(k)]);
    const auto clients = torch::tensor(std::vector<std::int64_t>{0, 1, 2});
    auto stacked = rows.gather_weights(clients);
    const std::vector<at::Tensor> grads = {torch::randn({3, 4, 5}), torch::randn({3, 4})};
    for (std::size_t i = 0; i < stacked.size(); ++i) stacked[i].mutable_grad() = grads[i];
    rows.scatter(clients, stacked, stacked_optimizer_step(o, stacked, rows.gather_slots(clients)));
    for (std::int64_t k = 0; k < 3; ++k) {
      step(*parts[std::size_t(k)], {grads[0][k], grads[1][k]});
      const auto a = rows.weights(k), b = parts[std::size_t(k)]->weights();
      for (std::size_t i = 0; i < a.size(); ++i) CHECK(at::allclose(a[i], b[i], 1e-6, 1e-7));
      const auto sa = rows.optimizer_state(k), sb = parts[std::size_t(k)]->optimizer_state();
      REQUIRE(sa.size() == sb.size());
      for (std::size_t i = 0; i < sa.size(); ++i) {
        REQUIRE(sa[i].numel() == sb[i].numel());
        if (sb[i].numel()) CHECK(at::allclose(sa[i], sb[i], 1e-6, 1e-7));
      }
    }
  }
}

TEST_CASE("a client part with a layer the batched pass does not know trains client by client", "[training][batched]") {
  namespace nn = torch::nn;
  torch::nn::Sequential part(nn::Conv2d(nn::Conv2dOptions(1, 4, 3)), nn::Dropout(0.5));
  CHECK_FALSE(BatchedClientPass::of(part));
  CHECK_FALSE(BatchedClientPass::of(torch::nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 4, 3)), nn::BatchNorm2d(4))));
  CHECK(BatchedClientPass::of(torch::nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 4, 3)), nn::ReLU())));
  // Nor one too large to gain from it: the bundled mlp's client part (784 x 256 weights).
  CHECK_FALSE(BatchedClientPass::of(bundled_model("mlp")->build({1, 28, 28}, 10).client));
  // The run's clients then give a piece per take, as with fused = false.
  auto model = fmnist_cnn();
  torch::manual_seed(10);
  const RandomImages data(8);
  LocalClientParts parts(*model, part, data, 2, PartLayout::PerClient, OptimizerSettings{}, true);
  CHECK(parts.forward(consecutive_step(0, {{0, 3}, {1, 2}}, 0)).pieces.size() == 2);
}

TEST_CASE("the summary reports macro F1 and per-class accuracy, consistent with top-1 accuracy", "[training]") {
  const auto dir = run("per-class");
  const auto s = summary(dir);
  REQUIRE(s.per_class_accuracy.size() == 4);
  REQUIRE(s.macro_f1);
  CHECK(*s.macro_f1 > 0.0);
  CHECK(*s.macro_f1 <= 1.0);
  // Top-1 accuracy is the per-class accuracies weighted by the classes' test counts.
  const auto ex = test::load(dir / "manifest.toml");
  Context ctx;
  ctx.params = ex.data.params;
  ctx.seed = std::uint64_t(ex.seed);
  const auto data = test::bundled().make<Dataset>(Kind::Dataset, "synthetic", ctx);
  std::vector<double> count(4, 0);
  for (auto y : data->labels(Split::Test)) ++count[std::size_t(y)];
  double weighted = 0;
  for (std::size_t c = 0; c < 4; ++c) weighted += s.per_class_accuracy[c] * count[c] / 200.0;
  CHECK(weighted == Approx(s.test_accuracy.value()).epsilon(1e-9));
  // metrics.csv holds them on every evaluation row, so a resumed run reports them too.
  const auto rows = MetricsLog::read(dir / "metrics.csv");
  const auto last = std::find_if(rows.rbegin(), rows.rend(), [](const MetricsRow& r) { return !r.is_train; });
  REQUIRE(last != rows.rend());
  CHECK(last->test_macro_f1 == Approx(*s.macro_f1));
  CHECK(last->test_class_accuracy == s.per_class_accuracy);
}

TEST_CASE("local and fedavg client sync train too", "[training]") {
  for (const std::string sync : {"local", "fedavg"}) {
    INFO(sync);
    const auto s = summary(run("sync-" + sync, "client_sync = \"" + sync + "\"\nsync_every_steps = 4\n"));
    CHECK(s.status == "complete");
    CHECK(s.test_accuracy.value() > 0.4);
  }
}

TEST_CASE("a failing run says why and leaves a readable folder", "[training]") {
  const auto dir = test::temp_dir("fail");
  const auto file = test::write_file(dir, "m.toml", test::small_manifest());
  RunSettings settings;
  settings.out = dir / "run";
  settings.quiet = true;
  auto ex = test::load(file, {parse_override("training.clients=601")});
  CHECK_THROWS_WITH(run_experiment(ex, test::bundled(), settings), Contains("partitioner 'extended_dirichlet'"));
  CHECK(summary(settings.out).status == "failed");
  CHECK_THAT(summary(settings.out).error, Contains("but 300 clients hold it"));
}

TEST_CASE("a client part whose convolutions read one channel trains without oneDNN, and the switch comes back",
          "[training]") {
  CHECK(runs_without_onednn(fmnist_cnn()->build({1, 28, 28}, 10).client));
  // Two blocks: the second convolution reads 32 channels, where oneDNN is faster.
  CHECK_FALSE(runs_without_onednn(bundled_model("fmnist_cnn", {{"cut", ParamValue(std::int64_t{2})}})->build({1, 28, 28}, 10).client));
  CHECK_FALSE(runs_without_onednn(fmnist_cnn()->build({3, 28, 28}, 10).client));  // colour images
  CHECK_FALSE(runs_without_onednn(bundled_model("mlp")->build({1, 28, 28}, 10).client));  // no convolution
  const bool before = at::globalContext().userEnabledMkldnn();
  {
    const OneDnnOffScope off(true);
    CHECK_FALSE(at::globalContext().userEnabledMkldnn());
    const OneDnnOffScope kept(false);
    CHECK_FALSE(at::globalContext().userEnabledMkldnn());
  }
  CHECK(at::globalContext().userEnabledMkldnn() == before);
}
