// The sampler: decides, step by step, how many samples each client contributes to the
// next global batch. It sees only what a real PSL server would see (ClientState).
#pragma once

#include <cstdint>
#include <vector>

#include "psl/random.hpp"

namespace psl {

// The server's knowledge of the clients during an epoch. Never the data itself.
class ClientState {
 public:
  virtual ~ClientState();
  virtual std::int64_t num_clients() const = 0;
  virtual std::int64_t total(std::int64_t client) const = 0;      // N_k
  virtual std::int64_t remaining(std::int64_t client) const = 0;  // R_k: not yet used this epoch
  virtual std::int64_t total_samples() const = 0;                 // N
  virtual std::int64_t total_remaining() const = 0;               // R
  // Expected seconds for `client` to take part in one step with `samples` samples
  // (compute, upload of activations, download of gradients). From the delay model in
  // simulation; with real clients, from a running fit of the client's observed step
  // times once it has taken part in a step (the delay model until then).
  virtual double expected_latency_s(std::int64_t client, std::int64_t samples) const = 0;
  // Per-class sample counts of the client's whole shard (they do not shrink as the epoch
  // uses samples: R_k says how many are left, not which). nullptr unless the manifest
  // sets `sampler.label_aware = true`; a sampler that cannot work without them says so
  // in its ComponentInfo (`needs = {psl::Knowledge::LabelHistograms}`), and psl validate
  // refuses a manifest that does not grant them.
  virtual const std::vector<std::int64_t>* label_histogram(std::int64_t client) const = 0;
  // Availability (a delay model whose clients come and go): a step may take only from the
  // clients online now. all_online() is true when every client is (always so without
  // such a delay model), so a sampler can skip the per-client check.
  virtual bool all_online() const;
  virtual bool online(std::int64_t client) const;
};

// `count` samples from `client` in one step.
struct Take {
  std::int64_t client = 0;
  std::int64_t count = 0;
  bool operator==(const Take&) const = default;
};

class Sampler {
 public:
  virtual ~Sampler();

  // Called before the first step of every epoch, when every R_k == N_k. `rng` is reseeded
  // by the host at each epoch start from (seed, epoch): keep no randomness of your own,
  // so that a resumed run replays exactly.
  virtual void begin_epoch(const ClientState& clients, Rng& rng);

  // The next step's batch. Called while clients.total_remaining() > 0 and at least one
  // online client has data left. Each count must be > 0 and <= remaining(client), each
  // client online, no client twice, and the list must not be empty.
  // The host then lowers R_k by the counts before the next call. Which samples a take
  // uses is the client's business: the next `count` of its shard in its own order for the
  // epoch (a seeded shuffle of the shard per epoch), so a sampler chooses how many, never which.
  virtual std::vector<Take> next_step(const ClientState& clients, Rng& rng) = 0;

  // A take the host could not use (the client missed the step deadline): its samples are
  // back in R_k. Samplers that keep their own copy of R_k update it here.
  virtual void give_back(const Take& take);
};

}  // namespace psl
