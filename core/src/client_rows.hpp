// Every client's part of a simulated run with one part per client, held as rows of
// stacked tensors: weight i of client k is row k of one [K, ...] tensor, and so is each
// optimizer state slot. A client then costs the bytes of its parameters and optimizer
// state and nothing else (a module and an optimizer object per client cost 6-10 KB more
// each: 1 GB at K = 100,000). A step's takes train on working parts bound to their
// clients' rows: the parameters are views of the rows, so the optimizer writes in place.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "client_part.hpp"

namespace psl {

class ClientRows {
 public:
  // `clients` rows, each holding `initial`'s weights and optimizer state.
  ClientRows(const ClientPart& initial, std::int64_t clients);

  std::int64_t clients() const { return std::int64_t(versions_.size()); }
  // Client k's weights, parameters then buffers, as views of its rows.
  std::vector<at::Tensor> weights(std::int64_t k) const;
  // Client k's optimizer state in ClientPart::optimizer_state()'s layout (views; absent
  // slots empty).
  std::vector<at::Tensor> optimizer_state(std::int64_t k) const;
  bool has_optimizer_state(std::int64_t k) const;
  // `work` becomes client k's part: its parameters and buffers views of k's rows, its
  // optimizer state a copy of k's.
  void bind(std::int64_t k, ClientPart& work) const;
  // After `work` (bound to k) took an optimizer step: k's optimizer state from `work`.
  void keep_optimizer_state(std::int64_t k, const ClientPart& work);
  // Client k's weights and optimizer state copied from `work` (which need not be bound).
  void store(std::int64_t k, const ClientPart& work);
  // Every client's weights become `weights`; optimizer states stay.
  void set_all_weights(const std::vector<at::Tensor>& weights);
  // Client `to` takes `from`'s weights; its optimizer state stays.
  void copy_weights(std::int64_t from, std::int64_t to);
  // For a batched step of the distinct clients `clients` ([T] long): their weights,
  // stacked [T, ...] (copies); their optimizer slots stacked likewise, zero where a client
  // has no state yet, undefined where no client has any; and writing both back.
  std::vector<at::Tensor> gather_weights(const at::Tensor& clients) const;
  std::vector<at::Tensor> gather_slots(const at::Tensor& clients) const;
  void scatter(const at::Tensor& clients, const std::vector<at::Tensor>& weights, const std::vector<at::Tensor>& slots);
  std::int64_t& version(std::int64_t k) { return versions_[std::size_t(k)]; }

 private:
  void keep_slots(std::int64_t k, const std::vector<at::Tensor>& slots);
  void allocate_slot(std::size_t j, const at::Tensor& like);  // slot j's [K, ...] rows, zero, when first needed

  std::vector<at::Tensor> weights_;            // [K, ...] per parameter, then per buffer
  std::vector<at::Tensor> slots_;              // [K, ...] per optimizer slot, allocated when first used
  std::vector<std::vector<bool>> present_;     // slot j of client k holds state (absent: never stepped)
  std::vector<std::int64_t> versions_;
};

}  // namespace psl
