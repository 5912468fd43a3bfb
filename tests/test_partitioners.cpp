#include <catch2/catch.hpp>

#include <set>

#include "psl/api/partitioner.hpp"
#include "support.hpp"

using namespace psl;
using Catch::Matchers::Contains;

namespace {
std::vector<std::int32_t> labels_round_robin(std::int64_t n, std::int32_t classes) {
  std::vector<std::int32_t> labels(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) labels[std::size_t(i)] = std::int32_t(i % classes);
  return labels;
}

std::vector<std::vector<std::int64_t>> split(const std::string& type, std::map<std::string, ParamValue> params,
                                             const std::vector<std::int32_t>& labels, std::int64_t classes,
                                             std::int64_t clients, std::uint64_t seed = 1) {
  // Fill defaults the way the manifest loader does.
  const Component* c = test::bundled().find(Kind::Partitioner, type);
  REQUIRE(c != nullptr);
  for (const auto& p : c->info.params)
    if (!params.count(p.name)) params[p.name] = *p.default_value;
  Context ctx;
  ctx.params = Params(params);
  auto partitioner = test::bundled().make<Partitioner>(Kind::Partitioner, type, ctx);
  Rng rng(seed);
  return partitioner->split(labels, classes, clients, rng);
}

void require_exact_cover(const std::vector<std::vector<std::int64_t>>& parts, std::size_t n) {
  std::vector<int> seen(n, 0);
  for (const auto& p : parts) {
    REQUIRE(!p.empty());
    for (auto i : p) ++seen.at(std::size_t(i));
  }
  for (auto s : seen) REQUIRE(s == 1);
}

std::set<std::int32_t> classes_of(const std::vector<std::int64_t>& part, const std::vector<std::int32_t>& labels) {
  std::set<std::int32_t> out;
  for (auto i : part) out.insert(labels[std::size_t(i)]);
  return out;
}
}  // namespace

TEST_CASE("every partitioner gives each sample to exactly one client", "[partitioner]") {
  const auto labels = labels_round_robin(2000, 10);
  for (const std::string type : {"iid", "dirichlet", "extended_dirichlet", "shards", "quantity_skew"}) {
    INFO(type);
    for (std::int64_t clients : {1, 7, 50}) {
      if (type == "extended_dirichlet" && clients == 1) continue;  // 1 x 2 classes cannot cover 10
      const auto parts = split(type, {}, labels, 10, clients);
      REQUIRE(std::int64_t(parts.size()) == clients);
      require_exact_cover(parts, labels.size());
    }
  }
}

TEST_CASE("iid sizes differ by at most one", "[partitioner]") {
  const auto parts = split("iid", {}, labels_round_robin(1003, 10), 10, 10);
  std::size_t mn = SIZE_MAX, mx = 0;
  for (const auto& p : parts) mn = std::min(mn, p.size()), mx = std::max(mx, p.size());
  CHECK(mx - mn <= 1);
}

TEST_CASE("extended_dirichlet gives each client exactly classes_per_client classes", "[partitioner]") {
  const auto labels = labels_round_robin(6000, 10);
  for (std::int64_t per_client : {1, 2, 5}) {
    const auto parts = split("extended_dirichlet", {{"classes_per_client", per_client}}, labels, 10, 16);
    require_exact_cover(parts, labels.size());
    std::map<std::int32_t, int> holders;
    for (const auto& p : parts) {
      const auto cls = classes_of(p, labels);
      CHECK(std::int64_t(cls.size()) == per_client);
      for (auto c : cls) ++holders[c];
    }
    CHECK(holders.size() == 10);  // every class held by someone
  }
}

TEST_CASE("shards with one shard per client and sorted labels keep clients near one class", "[partitioner]") {
  const auto labels = labels_round_robin(1000, 10);
  const auto parts = split("shards", {{"shards_per_client", std::int64_t{1}}}, labels, 10, 10);
  for (const auto& p : parts) CHECK(classes_of(p, labels).size() == 1);
}

TEST_CASE("partitioners refuse settings that cannot be met", "[partitioner]") {
  const auto labels = labels_round_robin(20, 10);
  CHECK_THROWS_WITH(split("iid", {}, labels, 10, 21), Contains("21 clients need at least 21 training samples"));
  CHECK_THROWS_WITH(split("extended_dirichlet", {{"classes_per_client", std::int64_t{11}}}, labels, 10, 4),
                    Contains("only 10 classes"));
  CHECK_THROWS_WITH(split("extended_dirichlet", {{"classes_per_client", std::int64_t{1}}}, labels, 10, 5),
                    Contains("cannot cover all 10 classes"));
  CHECK_THROWS_WITH(split("extended_dirichlet", {{"classes_per_client", std::int64_t{5}}}, labels, 10, 20),
                    Contains("class"));
  CHECK_THROWS_WITH(split("shards", {}, labels, 10, 11), Contains("need at least 22 samples"));
}

TEST_CASE("partitions are seeded", "[partitioner]") {
  const auto labels = labels_round_robin(3000, 10);
  CHECK(split("dirichlet", {}, labels, 10, 8, 5) == split("dirichlet", {}, labels, 10, 8, 5));
  CHECK(split("dirichlet", {}, labels, 10, 8, 5) != split("dirichlet", {}, labels, 10, 8, 6));
}
