// The [training] and [transport] tables as typed structs, made once when a manifest
// loads (manifest.cpp). Code reads these fields; no setting is looked up by its string
// key, and no choice is compared as a string, outside the manifest loader.
#pragma once

#include <cstdint>
#include <string>

#include "psl/params.hpp"

namespace psl {

enum class OptimizerKind { Sgd, Adam };
enum class ClientSync { Shared, Local, FedAvg };
enum class TransportKind { Simulated, Tcp };
enum class ClientLossPolicy { Wait, Drop, Abort };
enum class LrSchedule { Constant, Cosine };

// The manifest's spelling of each choice.
const char* to_string(OptimizerKind v);
const char* to_string(ClientSync v);
const char* to_string(TransportKind v);
const char* to_string(ClientLossPolicy v);
const char* to_string(LrSchedule v);

struct TrainingSettings {
  std::int64_t clients = 16;
  std::int64_t batch_size = 128;
  std::int64_t epochs = 1;
  std::int64_t max_steps = 0;  // 0: no limit
  OptimizerKind optimizer = OptimizerKind::Sgd;
  double lr = 0.05, momentum = 0, weight_decay = 0;
  LrSchedule lr_schedule = LrSchedule::Constant;
  ClientSync client_sync = ClientSync::Shared;
  std::int64_t sync_every_steps = 10;
  bool fused = true;
  std::int64_t eval_every_steps = 0;
  std::int64_t eval_batch_size = 256;
  double step_deadline_s = 0;
  std::int64_t threads = 0;  // 0: all cores
};

struct TransportSettings {
  TransportKind type = TransportKind::Simulated;
  std::string listen;
  std::string token_file;
  ClientLossPolicy on_client_loss = ClientLossPolicy::Abort;
  double handshake_timeout_s = 10, step_timeout_s = 60, ready_timeout_s = 300;
  double max_client_value = 1e6;
  bool tls = false;
  std::string tls_cert, tls_key, tls_ca;
  bool insecure = false;
  bool emulate_network = false;  // psl run: each client in its own namespace on a shaped link
};

// From checked tables (every key present, every choice valid: manifest.cpp's specs).
TrainingSettings training_settings(const Params& training);
TransportSettings transport_settings(const Params& transport);

}  // namespace psl
