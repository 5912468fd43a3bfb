// The training protocol: how one planned step's takes are trained. The sampler has
// already decided the takes (client k gives b_k samples); the protocol says which parts
// compute on them, in which order, and when parts are averaged. It never sees a tensor:
// it returns a StepSchedule, and the host runs it on whichever transport the run uses
// (in process or real clients over TCP), prices it on the virtual clock and counts its
// bytes. docs/protocols.md explains the built-ins and how to write a new one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "psl/api/sampler.hpp"
#include "psl/random.hpp"

namespace psl {

// What the clients hold.
enum class PartLayout {
  Shared,     // one client part for all: the step's parameter gradients are summed, in
              // take order, into one optimizer step that every client's copy follows
  PerClient,  // each client its own part and optimizer, stepped with its own gradients
};

// What a protocol fixes for the whole run.
struct ProtocolShape {
  PartLayout clients = PartLayout::Shared;
  bool server_per_client = false;  // one server-part copy per client (SplitFed V1), else one
  double client_lr_scale = 1.0;    // the clients' learning rate is training.lr times this
  double server_lr_scale = 1.0;    // the server part's learning rate is training.lr times this
  // Evaluate with the client part of the client that trained last (a part handed from
  // client to client), else with the average of all parts weighted by N_k / N.
  bool evaluate_last_active = false;
};

// Trained under one loss: the takes' clients run their forward passes, one server part
// forms the cross-entropy over all their samples and takes one optimizer step, the
// activations' gradients go back and the clients update.
struct Pass {
  std::vector<std::size_t> takes;  // indices into StepView::takes
  // PerClient: before the pass, its one client takes over the client part of the client
  // that trained last (a weight transfer; split learning's hand-over).
  bool receive_part = false;
  // The server sends every client of the pass the same cut-layer gradient: row j is the
  // mean of row j over the clients whose activations have a row j (SGLR).
  bool average_cut_gradients = false;
};

// How the passes of a step meet the virtual clock.
enum class PassTiming {
  Parallel,      // the passes' clients compute at once; the server part works through
                 // all samples (the paper's time model: slowest client + B x server time)
  ServerInTurn,  // clients compute at once; the server serves one pass after another, and
                 // a pass's clients wait for the passes before theirs
  Sequential,    // one pass after another, nothing overlaps (split learning)
};

// What to average after the step's passes, and with which weights.
enum class AverageWeights {
  ShardSizes,   // N_k / N
  SamplesUsed,  // the samples each client trained on since the last average
};

struct StepSchedule {
  std::vector<Pass> passes;  // run in this order
  PassTiming timing = PassTiming::Parallel;
  bool average_clients = false;  // PerClient: every client part becomes the weighted average
  bool average_servers = false;  // server_per_client: every server copy becomes the weighted average
  AverageWeights weights = AverageWeights::ShardSizes;
};

struct StepView {
  std::int64_t epoch = 0;
  std::int64_t step = 0;  // global, from 0
  std::int64_t num_clients = 0;
  const std::vector<Take>& takes;  // the sampler's takes that the step uses
};

class Protocol {
 public:
  virtual ~Protocol();
  virtual ProtocolShape shape() const = 0;
  // The step's schedule. Every take must be in exactly one pass, with a non-empty pass
  // list; the host checks and names the protocol if not. `rng` is seeded by the host
  // from (seed, step) for every call: keep no state of your own, so that `psl sample`
  // (which plans without training) and a resumed run see the same schedules.
  virtual StepSchedule schedule(const StepView& step, Rng& rng) const = 0;
};

}  // namespace psl
