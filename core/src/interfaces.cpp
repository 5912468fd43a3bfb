// Out-of-line destructors and default methods of the plugin interfaces: their vtables
// and type_info live in libpsl_core, never in a plugin library.
#include "psl/api/dataset.hpp"
#include "psl/api/delay_model.hpp"
#include "psl/api/partitioner.hpp"
#include "psl/api/protocol.hpp"
#include "psl/api/sampler.hpp"
#include "psl/api/split_model.hpp"
#include "psl/plugin.hpp"

namespace psl {

ClientState::~ClientState() = default;
bool ClientState::all_online() const { return true; }
bool ClientState::online(std::int64_t) const { return true; }
Sampler::~Sampler() = default;
void Sampler::begin_epoch(const ClientState&, Rng&) {}
void Sampler::give_back(const Take&) {}
Partitioner::~Partitioner() = default;
DelayModel::~DelayModel() = default;
ClientTiming DelayModel::draw(std::int64_t client, Rng&) const { return expected(client); }
bool DelayModel::has_availability() const { return false; }
double DelayModel::next_online_s(std::int64_t, double t_s) const { return t_s; }
Dataset::~Dataset() = default;
SplitModel::~SplitModel() = default;
Protocol::~Protocol() = default;
Registrar::~Registrar() = default;

}  // namespace psl
