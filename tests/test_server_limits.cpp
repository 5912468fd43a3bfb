// What a peer can cost the server before and after it authenticates, and what one bad
// client can do to the others: each case is an attack that used to work.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <sys/resource.h>

#include <boost/asio.hpp>
#include <fstream>
#include <mutex>
#include <thread>

#include "net_support.hpp"
#include "net/server.hpp"
#include "net/tokens.hpp"
#include "net/wire.hpp"
#include "psl/api/split_model.hpp"
#include "sampling_harness.hpp"

using namespace psl;
using namespace psl::net;
using Catch::Matchers::Contains;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

using Log = test::ServerLog;
using test::read_frame;

ServerOptions options(Log& log, std::int64_t clients = 2) {
  ServerOptions o;
  o.token = "master";
  o.manifest_text = "name = \"x\"";
  o.num_clients = clients;
  o.handshake_timeout_s = 30;  // long: the limits below must act before it
  o.log = log.sink();
  return o;
}

tcp::socket connect(asio::io_context& io, std::uint16_t port) {
  tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  return s;
}

// True if the server closes the connection within `seconds`.
bool closed_within(tcp::socket& s, double seconds) {
  s.non_blocking(true);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  std::array<std::uint8_t, 4096> buffer{};
  while (std::chrono::steady_clock::now() < deadline) {
    boost::system::error_code ec;
    s.read_some(asio::buffer(buffer), ec);
    if (ec == asio::error::eof || ec == asio::error::connection_reset) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

MsgType hello(tcp::socket& s, std::int64_t client, const std::string& master = "master") {
  asio::write(s, asio::buffer(encode_frame(MsgType::Hello, encode(Hello{kProtocolVersion, "", client,
                                                                        client_token(master, client)}))));
  return read_frame(s).type;
}

double resident_mib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

// A scripted client for one step: zero activations, then `gradient_value` in every
// parameter gradient, after the pauses given; it stays until the server closes.
struct ScriptedClient {
  std::vector<std::int64_t> activation_shape;
  std::vector<std::vector<std::int64_t>> gradient_shapes;
  float gradient_value = 0;
  std::chrono::milliseconds before_activations{0}, before_gradients{0};
  float last_activation = 0;  // the last value of the activations (the rest are zeros)
  std::int64_t label = 0;     // every label

  void run(std::uint16_t port, std::int64_t k) const {
    asio::io_context io;
    auto s = connect(io, port);
    hello(s, k);
    asio::write(s, asio::buffer(encode_frame(MsgType::Ready, encode_ready(0))));
    const StepRequest r = decode_step_request(read_frame(s).payload);
    std::vector<std::int64_t> shape = {r.count};
    shape.insert(shape.end(), activation_shape.begin(), activation_shape.end());
    std::this_thread::sleep_for(before_activations);
    at::Tensor activations = at::zeros(shape);
    activations.view({-1})[-1] = last_activation;
    asio::write(s, asio::buffer(encode_frame(MsgType::Activations,
                                             encode(Activations{r.step, activations, at::full({r.count}, label, at::kLong)}))));
    const Gradient g = decode_gradient(read_frame(s).payload);
    ClientGrads out{g.step, {}};
    for (const auto& sh : gradient_shapes) out.grads.push_back(at::full(sh, gradient_value));
    std::this_thread::sleep_for(before_gradients);
    asio::write(s, asio::buffer(encode_frame(MsgType::ClientGrads, encode(out))));
    boost::system::error_code ec;
    std::array<std::uint8_t, 64> sink{};
    while (!ec) s.read_some(asio::buffer(sink), ec);  // until the server closes
  }
};

// Two scripted clients' server: an mlp on 1x6x6 inputs and 4 classes.
test::RemoteRig mlp_rig(TcpServer& server, RemoteOptions ro, RemoteHooks hooks, const OptimizerSettings& o = {}) {
  Context ctx;
  ctx.params = test::defaults_for(Kind::Model, "mlp");
  auto model = test::bundled().make<SplitModel>(Kind::Model, "mlp", ctx);
  return test::remote_rig(server, *model, {1, 6, 6}, 4, 2, std::move(ro), std::move(hooks), o);
}

// The same rig whose server drops a client that sends anything wrong, and logs why.
test::RemoteRig dropping_rig(TcpServer& server, Log& log, const OptimizerSettings& o = {}) {
  RemoteOptions ro;
  ro.on_client_loss = ClientLossPolicy::Drop;
  RemoteHooks hooks;
  hooks.log = log.sink();
  return mlp_rig(server, std::move(ro), std::move(hooks), o);
}

// Step 0: two samples from each of clients 0 and 1.
PlannedStep two_client_step() {
  PlannedStep step;
  step.step = 0;
  step.takes = {{0, 2}, {1, 2}};
  step.offsets = {0, 0};
  return step;
}

bool all_equal(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!at::equal(a[i], b[i])) return false;
  return true;
}

}  // namespace

TEST_CASE("before authenticating, a peer may announce one small frame only", "[server][limits]") {
  Log log;
  TcpServer server(options(log));
  asio::io_context io;
  auto s = connect(io, server.port());
  asio::write(s, asio::buffer(encode_header(MsgType::Hello, 256u << 20)));
  CHECK(closed_within(s, 5.0));  // not after the 30 s handshake timeout
  CHECK(log.has("exceeds the limit of 16384"));
}

TEST_CASE("a large frame costs memory as its bytes arrive, not as its header announces", "[server][limits]") {
  Log log;
  TcpServer server(options(log));
  asio::io_context io;
  std::vector<tcp::socket> peers;
  for (std::int64_t k = 0; k < 2; ++k) {
    peers.push_back(connect(io, server.port()));
    REQUIRE(hello(peers.back(), k) == MsgType::Welcome);
  }
  const double before = resident_mib();
  const std::vector<std::uint8_t> some(1u << 20, 0);
  for (auto& s : peers) {  // 2 x 256 MiB announced, 1 MiB sent
    asio::write(s, asio::buffer(encode_header(MsgType::Activations, 256u << 20)));
    asio::write(s, asio::buffer(some));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(resident_mib() - before < 64);
}

TEST_CASE("unauthenticated connections are capped; the server still serves its clients", "[server][limits]") {
  Log log;
  auto o = options(log);
  o.max_unauthenticated = 8;
  TcpServer server(o);
  asio::io_context io;
  std::vector<tcp::socket> idle;
  for (int i = 0; i < 20; ++i) idle.push_back(connect(io, server.port()));
  int closed = 0;
  for (auto& s : idle) closed += closed_within(s, 0.2);
  CHECK(closed >= 12);
  CHECK(log.has("have not authenticated yet; a new one is closed"));
  idle.clear();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto s = connect(io, server.port());
  CHECK(hello(s, 0) == MsgType::Welcome);
}

TEST_CASE("out of file descriptors, the server logs it and accepts again later", "[server][limits]") {
  Log log;
  TcpServer server(options(log));
  rlimit old{};
  getrlimit(RLIMIT_NOFILE, &old);
  asio::io_context io;
  std::vector<tcp::socket> flood;
  {
    // Few descriptors left: our connections and the server's accepted ends use them up.
    int open_now = 0;
    for (int fd = 0; fd < 4096; ++fd) open_now += fcntl(fd, F_GETFD) != -1;
    rlimit low = old;
    low.rlim_cur = rlim_t(open_now + 12);
    REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
    for (int i = 0; i < 12; ++i) {
      boost::system::error_code ec;
      tcp::socket s(io);
      s.connect({asio::ip::make_address("127.0.0.1"), server.port()}, ec);
      if (ec) break;
      flood.push_back(std::move(s));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  flood.clear();
  REQUIRE(setrlimit(RLIMIT_NOFILE, &old) == 0);
  CHECK(log.has("accepting a connection failed"));
  // Descriptors are back: a client connects as if nothing had happened.
  for (int i = 0; i < 100 && !log.has("connection closed"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto s = connect(io, server.port());
  CHECK(hello(s, 1) == MsgType::Welcome);
}

TEST_CASE("a client that never says Ready gives its id back", "[server][limits]") {
  Log log;
  auto o = options(log);
  o.ready_timeout_s = 0.5;
  TcpServer server(o);
  asio::io_context io;
  auto squatter = connect(io, server.port());
  REQUIRE(hello(squatter, 0) == MsgType::Welcome);
  CHECK(closed_within(squatter, 5.0));
  CHECK(log.has("did not say Ready within 0.5 s"));
  auto honest = connect(io, server.port());
  CHECK(hello(honest, 0) == MsgType::Welcome);
}

TEST_CASE("non-finite or huge client gradients are refused and blamed on their sender", "[server][limits]") {
  Log log;
  TcpServer server(options(log));
  auto rig = dropping_rig(server, log);
  const auto shapes = rig.gradient_shapes;
  const auto act_shape = rig.activation_shape;

  const float poison = GENERATE(NAN, INFINITY, 1e30f);
  // Client 0 is honest (zero gradients), client 1 sends `poison`.
  const ScriptedClient honest_client{act_shape, shapes, 0.0f}, attacker_client{act_shape, shapes, poison};
  std::thread honest([&] { honest_client.run(server.port(), 0); });
  std::thread attacker([&] { attacker_client.run(server.port(), 1); });
  REQUIRE(server.wait_all_connected(10.0).empty());
  const auto before = rig.client_weights();
  CHECK(std::isfinite(rig.trainer->step(two_client_step())));
  CHECK(rig.parts->take_events().dropped == std::vector<std::int64_t>{1});
  CHECK(log.has("client 1 lost at step 0 (sent gradient tensor 0"));
  // Only the honest (zero) gradient was applied: the client part did not move.
  CHECK(all_equal(before, rig.client_weights()));
  server.shutdown_all("done");
  honest.join();
  attacker.join();
}

TEST_CASE("non-finite or huge activations and labels out of range are refused and blamed on their sender",
          "[server][limits]") {
  Log log;
  TcpServer server(options(log));
  auto rig = dropping_rig(server, log);
  struct Attack {
    float last_activation;
    std::int64_t label;
    const char* blamed;
  };
  // Only the last value is bad: the check reads every value, not a sample of them.
  const auto attack = GENERATE(Attack{NAN, 0, "sent activations that are not finite"},
                               Attack{-INFINITY, 0, "sent activations that are not finite"},
                               Attack{2e6f, 0, "sent activations with a value of 2e+06"},
                               Attack{0, -1, "sent labels out of range"}, Attack{0, 4, "sent labels out of range"});
  ScriptedClient honest_client{rig.activation_shape, rig.gradient_shapes};
  ScriptedClient attacker_client = honest_client;
  attacker_client.last_activation = attack.last_activation;
  attacker_client.label = attack.label;
  std::thread honest([&] { honest_client.run(server.port(), 0); });
  std::thread attacker([&] {
    try {
      attacker_client.run(server.port(), 1);
    } catch (const std::exception&) {  // refused: the server closes before any gradient comes
    }
  });
  REQUIRE(server.wait_all_connected(10.0).empty());
  CHECK(std::isfinite(rig.trainer->step(two_client_step())));
  CHECK(rig.parts->take_events().dropped == std::vector<std::int64_t>{1});
  CHECK(log.has(std::string("client 1 lost at step 0 (") + attack.blamed));
  server.shutdown_all("done");
  honest.join();
  attacker.join();
}

TEST_CASE("a step whose every client gradient is refused leaves the shared part alone", "[server][limits]") {
  Log log;
  TcpServer server(options(log));
  // Weight decay moves weights even with a zero gradient: an update without any
  // gradient would show.
  auto rig = dropping_rig(server, log, OptimizerSettings{OptimizerKind::Sgd, 0.1, 0.9, 0.1});
  const ScriptedClient a{rig.activation_shape, rig.gradient_shapes, NAN}, b{rig.activation_shape, rig.gradient_shapes, NAN};
  std::thread ta([&] { a.run(server.port(), 0); });
  std::thread tb([&] { b.run(server.port(), 1); });
  REQUIRE(server.wait_all_connected(10.0).empty());
  const auto before = rig.client_weights();
  rig.trainer->step(two_client_step());
  CHECK(rig.parts->take_events().dropped == std::vector<std::int64_t>{0, 1});
  CHECK(all_equal(before, rig.client_weights()));
  server.shutdown_all("done");
  ta.join();
  tb.join();
}

TEST_CASE("a real client's step time is measured as its frames arrive", "[server][latency]") {
  Log log;
  TcpServer server(options(log));
  RemoteHooks hooks;
  hooks.log = log.sink();
  auto rig = mlp_rig(server, RemoteOptions{}, hooks);
  const auto shapes = rig.gradient_shapes;
  const auto act_shape = rig.activation_shape;
  // Client 1 is slowed on purpose: 200 ms before its activations, 100 ms before its gradients.
  const ScriptedClient fast_client{act_shape, shapes}, slow_client{act_shape, shapes, 0.0f, std::chrono::milliseconds(200),
                                                                  std::chrono::milliseconds(100)};
  std::thread fast([&] { fast_client.run(server.port(), 0); });
  std::thread slow([&] { slow_client.run(server.port(), 1); });
  REQUIRE(server.wait_all_connected(10.0).empty());
  PlannedStep step;
  step.takes = {{0, 2}, {1, 3}};
  step.offsets = {0, 0};
  rig.trainer->step(step);
  const auto l = rig.parts->take_events().latencies;
  REQUIRE(l.size() == 2);
  CHECK(l[0].client == 0);
  CHECK(l[1].client == 1);
  CHECK(l[1].samples == 3);
  CHECK(l[1].seconds >= 0.3);          // at least the pauses it took
  CHECK(l[1].seconds > l[0].seconds);  // and more than the client that did not pause
  server.shutdown_all("done");
  fast.join();
  slow.join();
}
