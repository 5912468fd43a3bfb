// psl_bench: every figure a ratio measured side by side in one run (docs/benchmarks.md).
//
//   tools/bench [--reps N] [--quick] [--only 1,3,...]   (builds, then runs build/psl_bench)
//
// 1-2. PSL training throughput against a plain LibTorch loop that trains the same
//      unsplit network on the same batches (same data gathering) in the same process:
//      shared, local and fedavg sync.
// 3.   `psl sample` schedule throughput and peak memory at 1k, 100k and 1M clients, and
//      LDS against UGS.
// 4.   TCP on loopback with 8 client processes against the simulated transport.
// 5.   Peak memory of a simulated run with 10,000 clients, and the cost per client
//      from 16 against 1,000,000 clients on the same (synthetic) data.
// 6.   torch intra-op threads 1 against 2 (only with --only 6).
// 7.   The training step's floating-point rate against this machine's measured peak.
#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <tuple>
#include <nlohmann/json.hpp>

#include "coordinator.hpp"
#include "experiment_parts.hpp"
#include "process_settings.hpp"
#include "psl/api/dataset.hpp"
#include "psl/api/delay_model.hpp"
#include "psl/api/sampler.hpp"
#include "psl/api/split_model.hpp"
#include "run_folder.hpp"
#include "spawn_psl.hpp"
#include "step_planner.hpp"
#include "trainer.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using psl::read_run_summary;

namespace {

fs::path g_work;

struct Stats {
  double median = 0, min = 0, max = 0;
};
Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}
std::string show(const Stats& s, const char* unit = "") {
  return fmt::format("{:.3g}{} (min {:.3g}, max {:.3g})", s.median, unit, s.min, s.max);
}

fs::path write_manifest(const std::string& name, const std::string& text) {
  auto file = g_work / (name + ".toml");
  std::ofstream(file) << text;
  return file;
}

// The default data and partition of the training manifests: Fashion-MNIST, 2 classes per client.
const char* const kFashionMnist = "type = \"fashion_mnist\"";
const char* const kTwoClassesPerClient = "type = \"extended_dirichlet\"\nclasses_per_client = 2";

std::string training_manifest(std::int64_t clients, const std::string& sync, std::int64_t steps, std::int64_t threads,
                              const std::string& transport = "simulated", const std::string& data = kFashionMnist,
                              const std::string& partitioner = kTwoClassesPerClient,
                              const std::string& model = "fmnist_cnn") {
  return fmt::format(R"(name = "bench"
seed = 1
[data]
{}
[partitioner]
{}
[model]
type = "{}"
[sampler]
type = "ugs"
[training]
clients = {}
batch_size = 128
client_sync = "{}"
max_steps = {}
threads = {}
lr = 0.05
[transport]
type = "{}"
)",
                     data, partitioner, model, clients, sync, steps, threads, transport);
}

// The manifest's model built for Fashion-MNIST's 28x28 images and 10 classes.
psl::SplitNetwork fashion_mnist_network(psl::Registry& registry, const psl::Experiment& ex) {
  psl::Context ctx;
  ctx.params = ex.model.params;
  return registry.make<psl::SplitModel>(psl::Kind::Model, ex.model.type, ctx)->build({1, 28, 28}, 10);
}

// Runs `psl ARGS...` and waits for it.
// Runs psl into a folder of its own: the --out folder of the previous repetition is
// removed first (psl refuses a fresh run on top of another).
void run_psl(const std::vector<std::string>& args) {
  for (std::size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == "--out") std::filesystem::remove_all(args[i + 1]);
  std::vector<std::string> all = {"psl"};
  all.insert(all.end(), args.begin(), args.end());
  const pid_t pid = psl::spawn_psl(all, {"/dev/null"});  // its result lines go to /dev/null; ours to stdout
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error(fmt::format("psl {} failed", fmt::join(args, " ")));
}

// The plain loop: the unsplit network (client then server part), the same batches as
// the PSL run (taken from the same planner), the same data gathering, one process.
// `channels_last`: the convolutions' weights and the inputs in NHWC memory layout (a
// lever oneDNN may run faster on this CPU).
double plain_loop_samples_per_s(psl::Registry& registry, const psl::Experiment& ex, std::int64_t steps,
                                bool channels_last = false) {
  psl::configure_process(ex.training_settings.threads);
  psl::Context ctx;
  ctx.seed = std::uint64_t(ex.seed);
  ctx.num_clients = ex.training_settings.clients;
  ctx.batch_size = ex.training_settings.batch_size;
  ctx.params = ex.data.params;
  auto data = registry.make<psl::Dataset>(psl::Kind::Dataset, ex.data.type, ctx);
  ctx.params = ex.sampler.params;
  auto sampler = registry.make<psl::Sampler>(psl::Kind::Sampler, ex.sampler.type, ctx);
  ctx.params = ex.delay.params;
  auto delay = registry.make<psl::DelayModel>(psl::Kind::Delay, ex.delay.type, ctx);
  psl::Rng rng(1);
  delay->setup(ctx.num_clients, rng);
  ctx.params = ex.model.params;
  auto model = registry.make<psl::SplitModel>(psl::Kind::Model, ex.model.type, ctx);
  auto partition = psl::make_partition(ex, registry, *data);
  psl::PlannerConfig pc;
  pc.batch_size = ctx.batch_size;
  pc.num_classes = data->num_classes();
  pc.seed = 1;
  const auto& labels = data->labels(psl::Split::Train);
  psl::StepPlanner planner(std::move(partition), labels, *sampler, *delay, pc);
  planner.begin_epoch(0);
  std::vector<std::vector<std::int64_t>> batches;
  for (std::int64_t s = 0; s < steps && !planner.epoch_done(); ++s) batches.push_back(planner.next().indices);

  torch::manual_seed(1);
  auto net = model->build(data->sample_shape(), data->num_classes());
  torch::nn::Sequential whole;
  for (const auto& m : *net.client) whole->push_back(m);
  for (const auto& m : *net.server) whole->push_back(m);
  if (channels_last)
    for (auto& p : whole->parameters())
      if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
  torch::optim::SGD opt(whole->parameters(), torch::optim::SGDOptions(ex.training_settings.lr));
  data->features(psl::Split::Train, batches[0]);  // load the images outside the timing, as the run does
  const auto t0 = Clock::now();
  std::int64_t samples = 0;
  for (const auto& idx : batches) {
    auto x = data->features(psl::Split::Train, idx);
    if (channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
    std::vector<std::int64_t> y(idx.size());
    for (std::size_t i = 0; i < idx.size(); ++i) y[i] = labels[std::size_t(idx[i])];
    opt.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(whole->forward(x), torch::tensor(y));
    loss.backward();
    opt.step();
    loss.item<double>();  // the PSL run reads the loss every step too
    samples += std::int64_t(idx.size());
  }
  return double(samples) / std::chrono::duration<double>(Clock::now() - t0).count();
}

double psl_samples_per_s(psl::Registry& registry, const psl::Experiment& ex, const std::string& tag) {
  psl::RunSettings s;
  s.out = g_work / ("run-" + tag);
  std::filesystem::remove_all(s.out);  // the previous repetition's run (psl refuses a run on top of another)
  s.quiet = true;
  psl::run_experiment(ex, registry, s);
  return read_run_summary(s.out).samples_per_s;
}

void training_ratio(psl::Registry& registry, std::int64_t clients, const std::string& sync, std::int64_t steps,
                    int reps, std::int64_t threads = 0, const std::string& model = "fmnist_cnn") {
  const auto file = write_manifest(
      "train", training_manifest(clients, sync, steps, threads, "simulated", kFashionMnist, kTwoClassesPerClient, model));
  const auto ex = psl::load_experiment(file, {}, registry);
  std::vector<double> psl_v, plain_v, ratio;
  for (int r = 0; r < reps; ++r) {  // alternate, so drift hits both alike
    const double p = psl_samples_per_s(registry, ex, "train");
    const double q = plain_loop_samples_per_s(registry, ex, steps);
    psl_v.push_back(p);
    plain_v.push_back(q);
    ratio.push_back(p / q);
  }
  fmt::print("  {:<10} K={:<5} sync={:<6} threads={}: PSL {} samples/s, plain loop {} samples/s, ratio {}\n", model, clients, sync,
             threads == 0 ? "all" : std::to_string(threads), show(stats(psl_v)), show(stats(plain_v)),
             show(stats(ratio)));
}

// Returns the whole command's wall time.
double sample_scale(const std::string& sampler, std::int64_t clients, std::int64_t samples, std::int64_t max_steps) {
  const auto file = write_manifest("scale", fmt::format(R"(name = "scale"
seed = 1
[data]
type = "synthetic"
samples = {}
[partitioner]
type = "iid"
[sampler]
type = "{}"
[training]
clients = {}
batch_size = 128
max_steps = {}
)",
                                                        samples, sampler, clients, max_steps));
  const auto out = g_work / "scale";
  const auto t0 = Clock::now();
  run_psl({"sample", file.string(), "--out", out.string(), "--quiet"});
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto s = read_run_summary(out);
  const double mib = s.peak_rss_mib;
  const double scheduled = double(s.train_samples);
  fmt::print(
      "  {:<4} K={:>8} N={:>9}: {} steps, {:.3g} scheduled samples/s (whole command {:.1f} s incl. data and "
      "partition), peak {:.0f} MiB\n",
      sampler, clients, samples, s.train_steps, scheduled / s.train_wall_time_s,
      wall, mib);
  return wall;
}

// Floating-point operations of one sample's forward pass, counted layer by layer for
// convolutions and linear layers (2 per multiply-add; activations, pooling and norms are
// left out, so the count is a lower bound).
double forward_flops(torch::nn::Sequential& net, const std::vector<std::int64_t>& sample_shape) {
  torch::NoGradGuard guard;
  std::vector<std::int64_t> one = {1};
  one.insert(one.end(), sample_shape.begin(), sample_shape.end());
  auto x = torch::zeros(one);
  double flops = 0;
  for (auto& m : *net) {
    auto y = m.forward(x);
    if (auto conv = m.ptr()->as<torch::nn::Conv2d>()) {
      const auto& w = conv->weight;  // [out, in / groups, kh, kw]
      flops += 2.0 * double(y.numel()) * double(w.size(1) * w.size(2) * w.size(3));
    } else if (auto linear = m.ptr()->as<torch::nn::Linear>()) {
      flops += 2.0 * double(linear->weight.numel());
    }
    x = y;
  }
  return flops;
}

// This machine's single-precision peak as libtorch reaches it: large matrix products.
std::vector<double> scaled(std::vector<double> v, double by) {
  for (auto& x : v) x *= by;
  return v;
}

double matmul_flops_per_s(std::int64_t threads) {
  psl::configure_process(threads);
  const std::int64_t n = 2048;
  auto a = torch::randn({n, n}), b = torch::randn({n, n});
  at::mm(a, b);  // warm up
  const int reps = 10;
  const auto t0 = Clock::now();
  for (int i = 0; i < reps; ++i) at::mm(a, b);
  return 2.0 * double(n * n * n) * reps / std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"psl_bench: framework overhead, sampler scale, transport cost, memory"};
  int reps = 3;
  bool quick = false;
  app.add_option("--reps", reps, "repetitions of each timed pair (default 3)");
  app.add_flag("--quick", quick, "fewer steps (a smoke run)");
  std::vector<int> only;
  app.add_option("--only", only, "run only these sections (1 covers 1-2; 6 runs only when named)")
      ->delimiter(',')
      ->check(CLI::IsMember({1, 3, 4, 5, 6, 7}));
  CLI11_PARSE(app, argc, argv);

  g_work = fs::temp_directory_path() / fmt::format("psl-bench-{}", ::getpid());
  fs::create_directories(g_work);
  psl::Registry registry;
  registry.load_search_path();
  const std::int64_t steps = quick ? 30 : 100;

  // Section 6 (a one-off study of thread counts) runs only when asked for: the whole
  // bench stays under ten minutes.
  const auto wants = [&](int section) {
    return (only.empty() && section != 6) || std::count(only.begin(), only.end(), section) > 0;
  };

  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows line by line
  fmt::print("psl_bench: {} repetitions; medians with (min, max)\n", reps);
  if (wants(1) || wants(6)) {
    // One untimed pair first: the first runs in a process pay for thread pools, the
    // allocator's growth and page faults, which would otherwise land on one side.
    const auto warm =
        psl::load_experiment(write_manifest("warm", training_manifest(64, "shared", steps, 0)), {}, registry);
    psl_samples_per_s(registry, warm, "warm");
    plain_loop_samples_per_s(registry, warm, steps);
  }
  if (wants(1)) {
    fmt::print(
        "1-2. training throughput, fmnist_cnn, B=128, UGS, {} steps: PSL (run_experiment) / plain LibTorch loop\n",
        steps);
    training_ratio(registry, 64, "shared", steps, reps);
    training_ratio(registry, 1000, "shared", steps, reps);
    // A client part per client: local and fedavg train every active client's part in one
    // batched computation (core/src/batched_client_pass.hpp).
    training_ratio(registry, 64, "local", steps, reps);
    training_ratio(registry, 1000, "local", steps, reps);
    training_ratio(registry, 64, "fedavg", steps, reps);
    // The bundled mlp's part is too large to gain from batching (docs/benchmarks.md).
    training_ratio(registry, 64, "local", steps, reps, 0, "mlp");
  }

  if (wants(6)) {
    fmt::print("6. torch threads on this machine (PSL / plain loop, then compare the PSL columns)\n");
    training_ratio(registry, 64, "shared", steps, reps, 1);
    training_ratio(registry, 64, "shared", steps, reps, 2);
  }

  if (wants(3)) {
    fmt::print("3. psl sample schedule generation (iid partition, B=128)\n");
    for (std::int64_t K : {1000, 100000, 1000000}) {
      const std::int64_t N = std::clamp<std::int64_t>(100 * K, 1000000, 10000000);
      const std::int64_t lds_steps = K >= 1000000 ? (quick ? 500 : 10000) : 0;
      const double ugs = sample_scale("ugs", K, N, 0), lds = sample_scale("lds", K, N, lds_steps);
      if (lds_steps == 0) fmt::print("  lds / ugs whole command at K={}: {:.2f}\n", K, lds / ugs);
    }
  }

  if (wants(4)) {
    fmt::print("4. TCP on loopback, 8 client processes, against simulated (fmnist_cnn, B=128, {} steps)\n", steps);
    std::vector<double> tcp, tls, sim, ratio, tls_ratio, sim_ms, acts_ms, server_ms, grads_ms;
    for (int r = 0; r < reps; ++r) {
      for (const char* t : {"tcp", "simulated"}) {
        const auto file = write_manifest(t, training_manifest(8, "shared", steps, 0, t));
        run_psl({"run", file.string(), "--out", (g_work / t).string(), "--quiet"});
        if (std::string(t) == "tcp")  // the same run over TLS 1.3 (ephemeral CA, mutual TLS)
          run_psl({"run", file.string(), "--out", (g_work / "tls").string(), "--quiet", "--set", "transport.tls=true"});
        std::fflush(stdout);
      }
      const auto t = read_run_summary(g_work / "tcp"), s = read_run_summary(g_work / "simulated");
      tcp.push_back(t.samples_per_s);
      tls.push_back(read_run_summary(g_work / "tls").samples_per_s);
      sim.push_back(s.samples_per_s);
      ratio.push_back(tcp.back() / sim.back());
      tls_ratio.push_back(tls.back() / tcp.back());
      // Where a TCP step's time goes, per step, next to a simulated step.
      const double steps_t = double(t.train_steps), steps_s = double(s.train_steps);
      const auto phases = t.remote_phase_s.value_or(psl::RemotePhaseSeconds{});
      sim_ms.push_back(1000 * s.train_wall_time_s / steps_s);
      acts_ms.push_back(1000 * phases.activations / steps_t);
      server_ms.push_back(1000 * phases.server / steps_t);
      grads_ms.push_back(1000 * phases.client_gradients / steps_t);
    }
    fmt::print("  TCP {} samples/s, simulated {} samples/s, ratio {}\n", show(stats(tcp)), show(stats(sim)),
               show(stats(ratio)));
    fmt::print("  TCP with TLS {} samples/s, ratio to plain TCP {}\n", show(stats(tls)), show(stats(tls_ratio)));
    fmt::print(
        "  per step: simulated {} ms; TCP waiting for activations {} ms, server pass {} ms, waiting for client "
        "gradients {} ms\n",
        show(stats(sim_ms)), show(stats(acts_ms)), show(stats(server_ms)), show(stats(grads_ms)));
  }

  if (wants(7)) {
    fmt::print("7. shared-sync training against this machine's peak (fmnist_cnn, B=128, {} steps)\n", steps);
    const auto ex = psl::load_experiment(write_manifest("flops", training_manifest(64, "shared", steps, 0)), {}, registry);
    auto net = fashion_mnist_network(registry, ex);
    // Training is about three forward passes' work: the forward, and in the backward the
    // gradients of the activations and of the weights.
    const double per_sample = 3 * (forward_flops(net.client, {1, 28, 28}) +
                                   forward_flops(net.server, psl::measure_activation_shape(net.client, {1, 28, 28})));
    std::vector<double> achieved, peak, ratio;
    for (int r = 0; r < reps; ++r) {
      achieved.push_back(per_sample * psl_samples_per_s(registry, ex, "flops"));
      peak.push_back(matmul_flops_per_s(0));
      ratio.push_back(achieved.back() / peak.back());
    }
    fmt::print("  {:.3g} MFLOP per training sample; achieved {} GFLOP/s, 2048x2048 matrix products {} GFLOP/s, ratio {}\n",
               per_sample / 1e6, show(stats(scaled(achieved, 1e-9))), show(stats(scaled(peak, 1e-9))), show(stats(ratio)));
    // Levers: the same plain loop with channels-last memory format, side by side.
    std::vector<double> nchw, nhwc, lever;
    for (int r = 0; r < reps; ++r) {
      nchw.push_back(plain_loop_samples_per_s(registry, ex, steps));
      nhwc.push_back(plain_loop_samples_per_s(registry, ex, steps, true));
      lever.push_back(nhwc.back() / nchw.back());
    }
    fmt::print("  plain loop channels-last {} samples/s, default layout {} samples/s, ratio {}\n", show(stats(nhwc)),
               show(stats(nchw)), show(stats(lever)));
  }

  if (wants(5)) {
    fmt::print("5. peak memory of a simulated run (fmnist_cnn, 20 steps)\n");
    // One run's summary.json: its peak resident set (VmHWM) and its heap's high-water mark.
    // Both are printed per client; both baselines move between invocations by tens of MiB
    // (docs/benchmarks.md, section 5), so the median over repetitions is the figure.
    const auto peak = [](const std::string& manifest) {
      const auto file = write_manifest("mem", manifest);
      run_psl({"run", file.string(), "--out", (g_work / "mem").string(), "--quiet"});
      return read_run_summary(g_work / "mem");
    };
    const auto per_client = [](const psl::RunSummary& few, std::int64_t k_few, const psl::RunSummary& many,
                               std::int64_t k_many, double psl::RunSummary::*field) {
      return (many.*field - few.*field) * 1024 * 1024 / double(k_many - k_few);
    };
    std::vector<double> fmnist;
    for (int r = 0; r < reps; ++r) fmnist.push_back(peak(training_manifest(10000, "shared", 20, 0)).peak_rss_mib);
    fmt::print("  Fashion-MNIST, K=10000: {} MiB resident\n", show(stats(fmnist)));
    // The cost of a client: the same 2,000,000 synthetic samples (labels only in memory)
    // over few and over many clients. `shared`: 16 and 1,000,000 clients (1 KiB per client
    // would be 977 MiB). `local` (a client part per client): 1,000 and 100,000 clients; a
    // client's share should be its part's parameters and optimizer state (plain SGD: none)
    // on top of the sampling state.
    const std::string synthetic = "type = \"synthetic\"\nsamples = 2000000\ntest_samples = 1000";
    const auto ex = psl::load_experiment(write_manifest("part", training_manifest(64, "local", 1, 0)), {}, registry);
    const auto part = fashion_mnist_network(registry, ex).client;
    double part_bytes = 0;
    for (const auto& p : part->parameters()) part_bytes += double(p.numel() * p.element_size());
    for (const auto& [sync, k_few, k_many] : {std::tuple{"shared", 16, 1000000}, std::tuple{"local", 1000, 100000}}) {
      std::vector<double> heap_few, heap_many, heap_per_client, rss_per_client, speed;
      for (int r = 0; r < reps; ++r) {
        const auto few = peak(training_manifest(k_few, sync, 20, 0, "simulated", synthetic, "type = \"iid\""));
        const auto many = peak(training_manifest(k_many, sync, 20, 0, "simulated", synthetic, "type = \"iid\""));
        heap_few.push_back(few.peak_heap_mib);
        heap_many.push_back(many.peak_heap_mib);
        speed.push_back(many.samples_per_s);
        heap_per_client.push_back(per_client(few, k_few, many, k_many, &psl::RunSummary::peak_heap_mib));
        rss_per_client.push_back(per_client(few, k_few, many, k_many, &psl::RunSummary::peak_rss_mib));
      }
      fmt::print("  {} sync, synthetic N=2M: heap K={} {} MiB, K={} {} MiB ({} samples/s); per extra client {} bytes of "
                 "heap ({} resident){}\n",
                 sync, k_few, show(stats(heap_few)), k_many, show(stats(heap_many)), show(stats(speed)),
                 show(stats(heap_per_client)), show(stats(rss_per_client)),
                 std::string(sync) == "shared" ? ", target well under 1024"
                                               : fmt::format(", of which the client part's parameters are {:.0f}", part_bytes));
    }
  }
  fs::remove_all(g_work);
  return 0;
}
