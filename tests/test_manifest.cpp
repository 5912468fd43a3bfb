#include <catch2/catch.hpp>

#include "manifest.hpp"
#include "psl/api/sampler.hpp"
#include "registry.hpp"
#include "support.hpp"

using namespace psl;
using Catch::Matchers::Contains;

namespace {
std::vector<std::string> errors_of(const std::filesystem::path& file, const std::vector<Override>& overrides = {}) {
  try {
    test::load(file, overrides);
  } catch (const ManifestError& e) {
    return e.errors();
  }
  return {};
}
}  // namespace

TEST_CASE("every contract manifest validates", "[manifest]") {
  for (const char* name : {"quickstart", "paper-severe", "stragglers", "tcp"}) {
    const auto file = std::filesystem::path(PSL_SOURCE_DIR) / ".." / "shared" / "contract" / (std::string(name) + ".toml");
    if (!std::filesystem::exists(file)) continue;  // the contract folder sits beside the clone
    INFO(file);
    CHECK(errors_of(file).empty());
  }
  const auto quickstart = std::filesystem::path(PSL_SOURCE_DIR) / "experiments" / "quickstart.toml";
  CHECK(errors_of(quickstart).empty());
}

TEST_CASE("each error kind names file, line and column, all reported at once", "[manifest]") {
  const auto dir = test::temp_dir("manifest-errors");
  const auto file = test::write_file(dir, "bad.toml", R"(name = "bad"
seed = "one"
[data]
type = "synthetik"
[sampler]
type = "ugs"
colour = 3
[training]
clients = 0
lr = "fast"
optimizer = "rmsprop"
)");
  const auto errors = errors_of(file);
  const std::string f = file.string();
  REQUIRE(errors.size() == 6);
  CHECK_THAT(errors[0], Contains(f + ":2:8: 'seed' must be an integer"));
  CHECK_THAT(errors[1], Contains(f + ":4:8: unknown dataset 'synthetik' (did you mean 'synthetic'?)"));
  CHECK_THAT(errors[1], Contains("known: fashion_mnist, synthetic"));
  CHECK_THAT(errors[2], Contains(f + ":7:1: unknown key 'sampler.colour' for sampler 'ugs'"));
  CHECK_THAT(errors[3], Contains(f + ":9:11: 'training.clients' = 0 is out of range [1, inf]"));
  CHECK_THAT(errors[4], Contains(f + ":10:6: 'training.lr' must be a number"));
  CHECK_THAT(errors[5], Contains(f + ":11:13: 'training.optimizer' = \"rmsprop\" is not allowed"));
}

TEST_CASE("a missing required table and a TOML syntax error", "[manifest]") {
  const auto dir = test::temp_dir("manifest-missing");
  auto errors = errors_of(test::write_file(dir, "nodata.toml", "name = \"x\"\n[sampler]\ntype = \"ugs\"\n"));
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Contains("nodata.toml:1:1: missing table and key 'data.type'"));

  errors = errors_of(test::write_file(dir, "syntax.toml", "name = \"x\"\n[data\n"));
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Contains("syntax.toml:2:"));

  errors = errors_of(dir / "absent.toml");
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Contains("absent.toml: no such file"));
}

TEST_CASE("overrides given with --set are checked like the file and named by their flag", "[manifest]") {
  const auto dir = test::temp_dir("manifest-set");
  const auto file = test::write_file(dir, "m.toml", test::small_manifest());
  auto ex = test::load(file, {parse_override("training.clients=5"), parse_override("sampler.type=fls")});
  CHECK(ex.training.get_int("clients") == 5);
  CHECK(ex.sampler.type == "fls");

  auto errors = errors_of(file, {parse_override("training.clients=many"), parse_override("training.nope=1")});
  REQUIRE(errors.size() == 2);
  std::sort(errors.begin(), errors.end(), std::greater<>());
  CHECK_THAT(errors[0], Contains("--set training.nope: unknown key 'training.nope'"));
  CHECK_THAT(errors[1], Contains("--set training.clients: 'training.clients' must be an integer"));
  CHECK_THROWS_AS(parse_override("no-equals-sign"), ManifestError);
}

TEST_CASE("the training and transport tables load into typed settings", "[manifest]") {
  const auto dir = test::temp_dir("manifest-typed");
  const auto file = test::write_file(dir, "m.toml", test::small_manifest());
  const auto ex = test::load(file, {parse_override("training.client_sync=fedavg"), parse_override("training.optimizer=adam"),
                                    parse_override("transport.type=tcp"), parse_override("transport.on_client_loss=wait"),
                                    parse_override("transport.tls=true")});
  const auto& t = ex.training_settings;
  CHECK(t.clients == 6);
  CHECK(t.batch_size == 32);
  CHECK(t.client_sync == ClientSync::FedAvg);
  CHECK(t.optimizer == OptimizerKind::Adam);
  CHECK(t.lr == Approx(0.1));
  const auto& tr = ex.transport_settings;
  CHECK(tr.type == TransportKind::Tcp);
  CHECK(tr.on_client_loss == ClientLossPolicy::Wait);
  CHECK(tr.tls);
  CHECK(std::string(to_string(t.client_sync)) == "fedavg");  // the manifest's spelling, for summary.json
  CHECK(std::string(to_string(tr.on_client_loss)) == "wait");
}

TEST_CASE("the resolved manifest fills every default and reloads to the same experiment", "[manifest]") {
  const auto dir = test::temp_dir("manifest-roundtrip");
  const auto ex = test::load(test::write_file(dir, "m.toml", test::small_manifest()));
  CHECK(ex.training.get_string("client_sync") == "shared");  // a default
  CHECK(ex.delay.type == "constant");                        // a default component
  CHECK(ex.delay.params.get_float("latency_s") == Approx(0.01));
  const std::string resolved = to_toml(ex);
  CHECK_THAT(resolved, Contains("client_sync = 'shared'") || Contains("client_sync = \"shared\""));
  const auto again = test::load(test::write_file(dir, "resolved.toml", resolved));
  CHECK(again.same_settings(ex));
  CHECK(to_toml(again) == resolved);
}

TEST_CASE("transport keys are accepted with type simulated", "[manifest]") {
  const auto dir = test::temp_dir("manifest-transport");
  const auto ex = test::load(test::write_file(
      dir, "m.toml", test::small_manifest() + "[transport]\ntype = \"simulated\"\nlisten = \"0.0.0.0:7070\"\ntoken_file = \"\"\n"));
  CHECK(ex.transport.get_string("listen") == "0.0.0.0:7070");
}

TEST_CASE("near misses are suggested for tables, keys and choices", "[manifest]") {
  const auto dir = test::temp_dir("manifest-near-miss");
  const auto file = test::write_file(dir, "typo.toml", R"(name = "typo"
[data]
type = "synthetic"
[sampler]
type = "ugs"
[traning]
lr = 0.1
[training]
optimizer = "adm"
)");
  const auto errors = errors_of(file);
  const std::string f = file.string();
  REQUIRE(errors.size() == 2);
  CHECK_THAT(errors[0], Contains(f + ":6:2: unknown key 'traning' for the manifest (did you mean 'training'?)"));
  CHECK_THAT(errors[0], Contains("known: name, seed,"));  // and the tables
  CHECK_THAT(errors[0], Contains("transport"));
  CHECK_THAT(errors[1], Contains(f + ":9:13: 'training.optimizer' = \"adm\" is not allowed for [training] (did you "
                                     "mean 'adam'?): choose one of sgd, adam"));
}

TEST_CASE("the resolved manifest writes floats as the shortest text that reads back the same", "[manifest]") {
  const auto dir = test::temp_dir("manifest-floats");
  const auto file = test::write_file(dir, "f.toml", R"(name = "floats"
[data]
type = "synthetic"
[sampler]
type = "ugs"
[training]
lr = 0.0005
momentum = 0.30000000000000004
weight_decay = 1e-05
)");
  const auto ex = test::load(file);
  const std::string text = to_toml(ex);
  CHECK_THAT(text, Contains("lr = 0.0005\n"));
  CHECK_THAT(text, Contains("momentum = 0.30000000000000004\n"));
  CHECK_THAT(text, Contains("weight_decay = 1e-05\n"));
  CHECK_THAT(text, Contains("epochs = 1\n"));  // integers stay integers
  // Read back, every value is the same double.
  const auto again = test::write_file(dir, "resolved.toml", text);
  const auto ex2 = test::load(again);
  CHECK(ex2.training_settings.lr == ex.training_settings.lr);
  CHECK(ex2.training_settings.momentum == ex.training_settings.momentum);
  CHECK(to_toml(ex2) == text);
}

TEST_CASE("every [sweep] value is checked at its own position, all at once", "[manifest][sweep]") {
  const auto dir = test::temp_dir("manifest-sweep");
  const auto file = test::write_file(dir, "sweep.toml", R"(name = "grid"
[data]
type = "synthetic"
[sampler]
type = "ugs"
[sweep]
sampler.type = ["fls", "ugz"]
training.lr = [0.1, -0.5]
training.lrr = [0.1]
seed = [1, 2]
)");
  const auto errors = errors_of(file);
  const std::string f = file.string();
  REQUIRE(errors.size() == 3);
  CHECK_THAT(errors[0], Contains(f + ":7:24: [sweep] unknown sampler 'ugz' (did you mean 'ugs'?)"));
  CHECK_THAT(errors[1], Contains(f + ":8:21: [sweep] 'training.lr' = -0.5 is out of range"));
  CHECK_THAT(errors[2], Contains(f + ":9:17: [sweep] unknown key 'training.lrr' for [training] (did you mean 'lr'?)"));
}

TEST_CASE("[KIND.TYPE] tables hold parameters for the runs of that type only", "[manifest][sweep]") {
  const auto dir = test::temp_dir("manifest-per-type");
  const std::string base = R"(name = "per-type"
[data]
type = "synthetic"
[sampler]
type = "ugs"
[sampler.lds]
delay_skew = 0.25
pacing = "defer"
)";
  const auto file = test::write_file(dir, "m.toml", base);
  const auto ugs = test::load(file);
  CHECK_FALSE(ugs.sampler.params.has("delay_skew"));
  const auto lds = test::load(file, {parse_override("sampler.type=lds")});
  CHECK(lds.sampler.params.get_float("delay_skew") == 0.25);
  CHECK(lds.sampler.params.get_string("pacing") == "defer");
  CHECK(lds.sampler.params.get_float("concentration") == 1.0);  // the rest are defaults
  // The resolved manifest of one run holds its own type's parameters, flat.
  CHECK_THAT(to_toml(lds), Contains("delay_skew = 0.25\n"));
  CHECK_THAT(to_toml(lds), !Contains("[sampler.lds]"));

  const auto bad = test::write_file(dir, "bad.toml", base + R"(skew = 1.0
[sampler.ldz]
pace = 1
[sampler.fls]
colour = 1
)");
  const auto errors = errors_of(bad);
  const std::string f = bad.string();
  REQUIRE(errors.size() == 3);
  // In table order: fls, lds, ldz.
  CHECK_THAT(errors[0], Contains(f + ":13:1: unknown key 'sampler.fls.colour' for sampler 'fls'"));
  CHECK_THAT(errors[1], Contains(f + ":9:1: unknown key 'sampler.lds.skew' for sampler 'lds'"));
  CHECK_THAT(errors[2], Contains(f + ":10:10: [sampler.ldz] names no sampler (did you mean 'lds'?)"));

  const auto twice = test::write_file(dir, "twice.toml", base + "[sweep]\nsampler.type = [\"ugs\", \"lds\"]\n");
  CHECK(errors_of(twice).empty());
  const auto conflict = test::write_file(dir, "conflict.toml", R"(name = "c"
[data]
type = "synthetic"
[sampler]
type = "lds"
delay_skew = 0.5
[sampler.lds]
delay_skew = 0.25
)");
  const auto c = errors_of(conflict);
  REQUIRE(c.size() == 1);
  CHECK_THAT(c[0], Contains(conflict.string() + ":8:14: 'delay_skew' is set in both [sampler] and [sampler.lds]"));
}

TEST_CASE("a plugin folder that is not there is reported on the plugin_paths line", "[manifest]") {
  const auto dir = test::temp_dir("manifest-plugin-paths");
  const auto file = test::write_file(dir, "p.toml", "name = \"p\"\nplugin_paths = [\"nowhere\"]\n[data]\ntype = \"synthetic\"\n"
                                                             "[sampler]\ntype = \"ugs\"\n");
  const auto errors = errors_of(file);
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Contains(file.string() + ":2:16: "));
  CHECK_THAT(errors[0], Contains((dir / "nowhere").string()));
}

TEST_CASE("a sampler that needs label histograms is refused by a manifest that does not grant them", "[manifest]") {
  Registry registry;
  registry.load_search_path();
  registry.add_sampler({"by_label", "needs the clients' label histograms", {}, {Knowledge::LabelHistograms}},
                       [](const Context&) -> std::unique_ptr<Sampler> { return nullptr; });
  const auto dir = test::temp_dir("manifest-needs");
  const std::string base = "name = \"n\"\n[data]\ntype = \"synthetic\"\n[sampler]\ntype = \"by_label\"\n";
  const auto refused = test::write_file(dir, "refused.toml", base);
  try {
    load_experiment(refused, {}, registry);
    FAIL("the manifest was accepted");
  } catch (const ManifestError& e) {
    REQUIRE(e.errors().size() == 1);
    CHECK_THAT(e.errors()[0], Contains(refused.string() + ":5:8: sampler 'by_label' needs the clients' label "
                                                          "histograms: set sampler.label_aware = true"));
  }
  const auto granted = test::write_file(dir, "granted.toml", base + "label_aware = true\n");
  CHECK(load_experiment(granted, {}, registry).label_aware);
}

TEST_CASE("a learning-rate schedule loads, and an unknown one is refused", "[manifest][lr]") {
  const auto dir = test::temp_dir("manifest-lr-schedule");
  const auto file = test::write_file(dir, "m.toml", test::small_manifest("lr_schedule = \"cosine\"\n"));
  CHECK(test::load(file).training_settings.lr_schedule == LrSchedule::Cosine);
  CHECK(test::load(test::write_file(dir, "default.toml", test::small_manifest())).training_settings.lr_schedule ==
        LrSchedule::Constant);
  const auto bad = errors_of(file, {parse_override("training.lr_schedule=linear")});
  REQUIRE(bad.size() == 1);
  CHECK_THAT(bad[0], Contains("--set training.lr_schedule") && Contains("cosine"));
  const auto in_file = test::write_file(dir, "linear.toml", test::small_manifest("lr_schedule = \"linear\"\n"));
  const auto named = errors_of(in_file);
  REQUIRE(named.size() == 1);
  CHECK_THAT(named[0], Contains(in_file.string() + ":30:15:") && Contains("lr_schedule") && Contains("cosine"));
}
