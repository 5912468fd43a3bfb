#include "settings.hpp"

#include <stdexcept>

namespace psl {

namespace {

// The one place a choice's spelling becomes its value: the specs in manifest.cpp have
// checked it is one of these already.
template <class E, std::size_t N>
E choice(const std::string& value, const std::pair<const char*, E> (&options)[N]) {
  for (const auto& [name, e] : options)
    if (value == name) return e;
  throw std::logic_error("unchecked manifest choice '" + value + "'");
}

constexpr std::pair<const char*, OptimizerKind> kOptimizers[] = {{"sgd", OptimizerKind::Sgd},
                                                                 {"adam", OptimizerKind::Adam}};
constexpr std::pair<const char*, ClientSync> kSyncs[] = {
    {"shared", ClientSync::Shared}, {"local", ClientSync::Local}, {"fedavg", ClientSync::FedAvg}};
constexpr std::pair<const char*, TransportKind> kTransports[] = {{"simulated", TransportKind::Simulated},
                                                                 {"tcp", TransportKind::Tcp}};
constexpr std::pair<const char*, ClientLossPolicy> kPolicies[] = {
    {"wait", ClientLossPolicy::Wait}, {"drop", ClientLossPolicy::Drop}, {"abort", ClientLossPolicy::Abort}};
constexpr std::pair<const char*, LrSchedule> kLrSchedules[] = {{"constant", LrSchedule::Constant},
                                                             {"cosine", LrSchedule::Cosine}};

template <class E, std::size_t N>
const char* name_of(E value, const std::pair<const char*, E> (&options)[N]) {
  for (const auto& [name, e] : options)
    if (e == value) return name;
  return "?";
}

}  // namespace

const char* to_string(OptimizerKind v) { return name_of(v, kOptimizers); }
const char* to_string(ClientSync v) { return name_of(v, kSyncs); }
const char* to_string(TransportKind v) { return name_of(v, kTransports); }
const char* to_string(ClientLossPolicy v) { return name_of(v, kPolicies); }
const char* to_string(LrSchedule v) { return name_of(v, kLrSchedules); }

TrainingSettings training_settings(const Params& t) {
  TrainingSettings s;
  s.clients = t.get_int("clients");
  s.batch_size = t.get_int("batch_size");
  s.epochs = t.get_int("epochs");
  s.max_steps = t.get_int("max_steps");
  s.optimizer = choice(t.get_string("optimizer"), kOptimizers);
  s.lr = t.get_float("lr");
  s.lr_schedule = choice(t.get_string("lr_schedule"), kLrSchedules);
  s.momentum = t.get_float("momentum");
  s.weight_decay = t.get_float("weight_decay");
  s.client_sync = choice(t.get_string("client_sync"), kSyncs);
  s.sync_every_steps = t.get_int("sync_every_steps");
  s.fused = t.get_bool("fused");
  s.eval_every_steps = t.get_int("eval_every_steps");
  s.eval_batch_size = t.get_int("eval_batch_size");
  s.step_deadline_s = t.get_float("step_deadline_s");
  s.threads = t.get_int("threads");
  return s;
}

TransportSettings transport_settings(const Params& t) {
  TransportSettings s;
  s.type = choice(t.get_string("type"), kTransports);
  s.listen = t.get_string("listen");
  s.token_file = t.get_string("token_file");
  s.on_client_loss = choice(t.get_string("on_client_loss"), kPolicies);
  s.handshake_timeout_s = t.get_float("handshake_timeout_s");
  s.step_timeout_s = t.get_float("step_timeout_s");
  s.ready_timeout_s = t.get_float("ready_timeout_s");
  s.max_client_value = t.get_float("max_client_value");
  s.tls = t.get_bool("tls");
  s.tls_cert = t.get_string("tls_cert");
  s.tls_key = t.get_string("tls_key");
  s.tls_ca = t.get_string("tls_ca");
  s.insecure = t.get_bool("insecure");
  s.emulate_network = t.get_bool("emulate_network");
  return s;
}

}  // namespace psl
