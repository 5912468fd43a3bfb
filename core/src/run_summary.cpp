#include "run_summary.hpp"

#include <fmt/format.h>

#include <fstream>
#include <stdexcept>

#include "run_folder.hpp"

namespace psl {

using json = nlohmann::json;

json to_json(const RunSummary& s) {
  json j;
  j["name"] = s.name;
  j["status"] = s.status;
  if (!s.error.empty()) j["error"] = s.error;
  j["mode"] = s.mode;
  j["sampler"] = s.sampler;
  j["partitioner"] = s.partitioner;
  j["delay"] = s.delay;
  j["model"] = s.model;
  j["dataset"] = s.dataset;
  j["protocol"] = s.protocol;
  j["client_sync"] = s.client_sync;
  j["num_clients"] = s.num_clients;
  j["batch_size"] = s.batch_size;
  j["seed"] = s.seed;
  j["epochs"] = s.epochs;
  j["epochs_completed"] = s.epochs_completed;
  j["train_steps"] = s.train_steps;
  j["train_samples"] = s.train_samples;
  j["test_accuracy"] = s.test_accuracy ? json(*s.test_accuracy) : json(nullptr);
  j["test_loss"] = s.test_loss ? json(*s.test_loss) : json(nullptr);
  j["macro_f1"] = s.macro_f1 ? json(*s.macro_f1) : json(nullptr);
  j["per_class_accuracy"] = json::array();
  for (double a : s.per_class_accuracy) j["per_class_accuracy"].push_back(std::isnan(a) ? json(nullptr) : json(a));
  j["simulated_time_s"] = s.simulated_time_s;
  j["straggler_wait_s"] = s.straggler_wait_s;
  j["availability_wait_s"] = s.availability_wait_s;
  j["deferred_contributions"] = s.deferred_contributions;
  j["bytes_up"] = s.bytes.up();
  j["bytes_down"] = s.bytes.down();
  j["bytes"] = {{"activations_up", s.bytes.activations},
                {"gradients_down", s.bytes.gradients},
                {"weights_up", s.bytes.weights_up},
                {"weights_down", s.bytes.weights_down}};
  j["transport"] = s.transport;
  if (s.frame_bytes_sent) j["frame_bytes_sent"] = *s.frame_bytes_sent;
  if (s.frame_bytes_received) j["frame_bytes_received"] = *s.frame_bytes_received;
  if (!s.observed_step_s.empty()) {
    j["observed_step_s"] = json::array();
    for (double v : s.observed_step_s) j["observed_step_s"].push_back(std::isnan(v) ? json(nullptr) : json(v));
  }
  if (s.dropped_clients) j["dropped_clients"] = *s.dropped_clients;
  if (s.remote_phase_s)
    j["remote_phase_s"] = {{"activations", s.remote_phase_s->activations},
                           {"server", s.remote_phase_s->server},
                           {"client_gradients", s.remote_phase_s->client_gradients}};
  if (s.lost_samples) j["lost_samples"] = *s.lost_samples;
  j["wall_time_s"] = s.wall_time_s;
  j["train_wall_time_s"] = s.train_wall_time_s;
  j["samples_per_s"] = s.samples_per_s;
  j["mean_batch_deviation"] = s.mean_batch_deviation;
  j["p50_batch_deviation"] = s.p50_batch_deviation;
  j["p90_batch_deviation"] = s.p90_batch_deviation;
  j["mean_batch_size"] = s.mean_batch_size;
  j["mean_active_clients"] = s.mean_active_clients;
  j["mean_online_clients"] = s.mean_online_clients;
  j["steps_per_epoch"] = s.steps_per_epoch;
  j["activation_bytes_per_sample"] = s.activation_bytes_per_sample;
  j["latency_source"] = s.latency_source;
  j["torch_threads"] = s.torch_threads;
  j["peak_rss_mib"] = s.peak_rss_mib;
  j["peak_heap_mib"] = s.peak_heap_mib;
  j["manifest_sha256"] = s.manifest_sha256;
  j["metrics_bytes"] = s.metrics_bytes;
  j["metrics_sha256"] = s.metrics_sha256;
  return j;
}

void write_run_summary(const std::filesystem::path& run_dir, const RunSummary& s) {
  write_file_atomic(run_dir / "summary.json", to_json(s).dump(2) + "\n");
}

namespace {

template <class T>
void take(const json& j, const char* key, T& out) {
  if (j.contains(key) && !j[key].is_null()) out = j[key].get<T>();
}
template <class T>
void take(const json& j, const char* key, std::optional<T>& out) {
  if (j.contains(key) && !j[key].is_null()) out = j[key].get<T>();
}

}  // namespace

RunSummary read_run_summary(const std::filesystem::path& run_dir) {
  const auto file = run_dir / "summary.json";
  std::ifstream in(file);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot read it", file.string()));
  json j;
  try {
    j = json::parse(in);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: unreadable summary.json: {}", file.string(), e.what()));
  }
  RunSummary s;
  try {
    for (const char* key : {"name", "status", "mode", "train_steps"})
      if (!j.contains(key)) throw std::runtime_error(fmt::format("no '{}'", key));
    take(j, "name", s.name);
    take(j, "status", s.status);
    take(j, "error", s.error);
    take(j, "mode", s.mode);
    take(j, "sampler", s.sampler);
    take(j, "partitioner", s.partitioner);
    take(j, "delay", s.delay);
    take(j, "model", s.model);
    take(j, "dataset", s.dataset);
    take(j, "protocol", s.protocol);
    take(j, "client_sync", s.client_sync);
    if (j.contains("bytes")) {
      const auto& b = j["bytes"];
      take(b, "activations_up", s.bytes.activations);
      take(b, "gradients_down", s.bytes.gradients);
      take(b, "weights_up", s.bytes.weights_up);
      take(b, "weights_down", s.bytes.weights_down);
    }
    take(j, "frame_bytes_sent", s.frame_bytes_sent);
    take(j, "frame_bytes_received", s.frame_bytes_received);
    if (j.contains("observed_step_s"))
      for (const auto& v : j["observed_step_s"]) s.observed_step_s.push_back(v.is_null() ? NAN : v.get<double>());
    take(j, "transport", s.transport);
    take(j, "num_clients", s.num_clients);
    take(j, "batch_size", s.batch_size);
    take(j, "seed", s.seed);
    take(j, "epochs", s.epochs);
    take(j, "epochs_completed", s.epochs_completed);
    take(j, "train_steps", s.train_steps);
    take(j, "train_samples", s.train_samples);
    take(j, "steps_per_epoch", s.steps_per_epoch);
    take(j, "test_accuracy", s.test_accuracy);
    take(j, "test_loss", s.test_loss);
    take(j, "macro_f1", s.macro_f1);
    if (j.contains("per_class_accuracy"))
      for (const auto& a : j["per_class_accuracy"]) s.per_class_accuracy.push_back(a.is_null() ? NAN : a.get<double>());
    take(j, "simulated_time_s", s.simulated_time_s);
    take(j, "straggler_wait_s", s.straggler_wait_s);
    take(j, "availability_wait_s", s.availability_wait_s);
    take(j, "deferred_contributions", s.deferred_contributions);
    take(j, "wall_time_s", s.wall_time_s);
    take(j, "train_wall_time_s", s.train_wall_time_s);
    take(j, "samples_per_s", s.samples_per_s);
    take(j, "mean_batch_deviation", s.mean_batch_deviation);
    take(j, "p50_batch_deviation", s.p50_batch_deviation);
    take(j, "p90_batch_deviation", s.p90_batch_deviation);
    take(j, "mean_batch_size", s.mean_batch_size);
    take(j, "mean_active_clients", s.mean_active_clients);
    take(j, "mean_online_clients", s.mean_online_clients);
    take(j, "activation_bytes_per_sample", s.activation_bytes_per_sample);
    take(j, "latency_source", s.latency_source);
    take(j, "torch_threads", s.torch_threads);
    take(j, "peak_rss_mib", s.peak_rss_mib);
    take(j, "peak_heap_mib", s.peak_heap_mib);
    take(j, "dropped_clients", s.dropped_clients);
    take(j, "lost_samples", s.lost_samples);
    if (j.contains("remote_phase_s")) {
      const auto& p = j["remote_phase_s"];
      s.remote_phase_s = RemotePhaseSeconds{p.at("activations"), p.at("server"), p.at("client_gradients")};
    }
    s.has_checksums = j.contains("metrics_sha256") && j.contains("manifest_sha256");
    take(j, "manifest_sha256", s.manifest_sha256);
    take(j, "metrics_sha256", s.metrics_sha256);
    take(j, "metrics_bytes", s.metrics_bytes);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: not a psl summary: {}", file.string(), e.what()));
  }
  return s;
}

std::string epochs_done_note(const RunSummary& s) {
  return fmt::format("{} of {} epochs{}", s.epochs_completed, s.epochs, s.error.empty() ? "" : ": " + s.error);
}

}  // namespace psl
