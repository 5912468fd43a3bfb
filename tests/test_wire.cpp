#include <ATen/ATen.h>
#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <array>
#include <boost/asio.hpp>
#include <cmath>
#include <mutex>
#include <random>
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

TEST_CASE("protocol messages round-trip", "[protocol]") {
  StepRequest r{7, 1, 30, 16, 12};
  const auto r2 = decode_step_request(encode(r));
  CHECK(r2.step == 7);
  CHECK(r2.epoch == 1);
  CHECK(r2.offset == 30);
  CHECK(r2.count == 16);
  CHECK(r2.version == 12);

  PartTensors p{4, 9, {at::randn({3, 2}), at::arange(4, at::kLong)}};
  const auto p2 = decode_part_tensors(encode(p));
  CHECK(p2.step == 4);
  CHECK(p2.version == 9);
  REQUIRE(p2.tensors.size() == 2);
  CHECK(at::equal(p2.tensors[0], p.tensors[0]));
  CHECK(at::equal(p2.tensors[1], p.tensors[1]));
  const auto d = decode_step_done(encode(StepDone{3, 8}));
  CHECK((d.step == 3 && d.version == 8));
  CHECK(decode_part_request(encode(PartRequest{2, PartKind::State})).kind == PartKind::State);
  CHECK(decode_ready(encode_ready(17)) == 17);
  SharedUpdate u{5, 11, 0.0125, {at::randn({3}), at::randn({2, 2})}};
  const auto u2 = decode_shared_update(encode(u));
  CHECK((u2.step == 5 && u2.version == 11 && u2.lr == 0.0125));
  REQUIRE(u2.grads.size() == 2);
  CHECK(at::equal(u2.grads[1], u.grads[1]));
  CHECK(decode_gradient(encode(Gradient{2, at::ones({2}), 0.003})).lr == 0.003);

  Activations a{3, at::randn({4, 32, 14, 14}), at::tensor(std::vector<std::int64_t>{0, 9, 2, 2})};
  const auto a2 = decode_activations(encode(a));
  CHECK(at::equal(a2.activations, a.activations));
  CHECK(at::equal(a2.labels, a.labels));

  Hello h{kProtocolVersion, "run", 5, "secret"};
  const auto h2 = decode_hello(encode(h));
  CHECK(h2.client == 5);
  CHECK(h2.token == "secret");
  CHECK(decode_text(encode_text(MsgType::Reject, "why")) == "why");

  const auto frame = encode_frame(MsgType::Gradient, encode(Gradient{2, at::ones({2, 2})}));
  const auto header = decode_header(frame.data());
  CHECK(header.type == MsgType::Gradient);
  CHECK(header.length == frame.size() - kHeaderBytes);
}

TEST_CASE("malformed frames and payloads are rejected with a reason", "[protocol]") {
  auto frame = encode_frame(MsgType::Hello, encode(Hello{}));
  SECTION("wrong magic") {
    frame[0] ^= 0xff;
    CHECK_THROWS_WITH(decode_header(frame.data()), Contains("bad frame magic"));
  }
  SECTION("unknown type") {
    frame[4] = 99;
    CHECK_THROWS_WITH(decode_header(frame.data()), Contains("unknown frame type 99"));
  }
  SECTION("oversized") {
    const std::uint32_t huge = kMaxFrameBytes + 1;
    std::memcpy(frame.data() + 8, &huge, 4);
    CHECK_THROWS_WITH(decode_header(frame.data()), Contains("exceeds the limit"));
  }
  SECTION("truncated payload") {
    auto payload = encode(Activations{1, at::ones({2, 3}), at::zeros({2}, at::kLong)});
    payload.resize(payload.size() - 5);
    CHECK_THROWS_WITH(decode_activations(payload), Contains("truncated payload"));
  }
  SECTION("trailing bytes") {
    auto payload = encode(Gradient{1, at::ones({2})});
    payload.push_back(0);
    CHECK_THROWS_WITH(decode_gradient(payload), Contains("unexpected bytes"));
  }
  SECTION("a learning rate a client must not step with") {
    for (const double lr : {-0.1, std::nan(""), HUGE_VAL}) {
      CHECK_THROWS_WITH(decode_gradient(encode(Gradient{1, at::ones({2}), lr})), Contains("a learning rate of"));
      CHECK_THROWS_WITH(decode_shared_update(encode(SharedUpdate{1, 0, lr, {}})), Contains("a learning rate of"));
    }
  }
  SECTION("bad tensor dtype") {
    auto payload = encode(Gradient{1, at::ones({2})});
    payload[8] = 7;  // the dtype field follows the step
    CHECK_THROWS_WITH(decode_gradient(payload), Contains("unknown tensor dtype 7"));
  }
  CHECK(same_secret("abc", "abc"));
  CHECK_FALSE(same_secret("abc", "abd"));
  CHECK_FALSE(same_secret("abc", "abcd"));
}

namespace {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

ServerOptions options() {
  ServerOptions o;
  o.token = "t0ken";
  o.run_id = "run-1";
  o.manifest_text = "name = \"x\"";
  o.num_clients = 2;
  o.handshake_timeout_s = 2;
  return o;
}

// Client k's token under the test master secret.
std::string token(std::int64_t k) { return client_token("t0ken", k); }

// Says hello on a connected socket, returns the server's answer (type and text).
std::pair<MsgType, std::string> hello(tcp::socket& s, const Hello& h) {
  asio::write(s, asio::buffer(encode_frame(MsgType::Hello, encode(h))));
  std::array<std::uint8_t, kHeaderBytes> header{};
  asio::read(s, asio::buffer(header));
  const auto fh = decode_header(header.data());
  std::vector<std::uint8_t> payload(fh.length);
  asio::read(s, asio::buffer(payload));
  return {fh.type, decode_text(payload)};
}
std::pair<MsgType, std::string> hello(std::uint16_t port, const Hello& h) {
  asio::io_context io;
  tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  return hello(s, h);
}
}  // namespace

TEST_CASE("the handshake refuses a wrong token, version, run or id", "[protocol][server]") {
  TcpServer server(options());
  const auto port = server.port();
  const auto wrong = hello(port, {kProtocolVersion, "", 0, "wrong"});
  CHECK(wrong.first == MsgType::Reject);
  CHECK(wrong.second == "wrong token for client 0");
  CHECK(hello(port, {kProtocolVersion, "", 0, ""}).first == MsgType::Reject);
  CHECK_THAT(hello(port, {kProtocolVersion + 1, "", 0, token(0)}).second,
             Contains(fmt::format("protocol version {} is not supported", kProtocolVersion + 1)));
  CHECK_THAT(hello(port, {1, "", 0, token(0)}).second, Contains("protocol version 1 is not supported"));  // no Ready
  CHECK_THAT(hello(port, {kProtocolVersion, "run-2", 0, token(0)}).second, Contains("is not this run"));
  CHECK_THAT(hello(port, {kProtocolVersion, "", 2, token(0)}).second, Contains("client id 2 is out of range"));
  // One client's token, or the master secret itself, is no other client's.
  CHECK(hello(port, {kProtocolVersion, "", 1, token(0)}).second == "wrong token for client 1");
  CHECK(hello(port, {kProtocolVersion, "", 1, "t0ken"}).second == "wrong token for client 1");
  CHECK_FALSE(server.connected(0));
  const auto ok = hello(port, {kProtocolVersion, "run-1", 1, token(1)});
  CHECK(ok.first == MsgType::Welcome);
  CHECK(ok.second == "name = \"x\"");
}

TEST_CASE("a client counts as connected only once it says Ready", "[protocol][server]") {
  TcpServer server(options());
  asio::io_context io;
  tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), server.port()});
  REQUIRE(hello(s, {kProtocolVersion, "", 1, token(1)}).first == MsgType::Welcome);
  // Handshake done, data not yet loaded: no step may be sent to it.
  CHECK_FALSE(server.wait_connected(1, 0.2));
  CHECK(server.wait_all_connected(0.0) == std::vector<std::int64_t>{0, 1});
  asio::write(s, asio::buffer(encode_frame(MsgType::Ready, encode_ready(0))));
  CHECK(server.wait_connected(1, 5.0));
  CHECK(server.wait_all_connected(0.0) == std::vector<std::int64_t>{0});
  s.close();
  // Gone again: not connected, and its id is free for the next hello.
  for (int i = 0; i < 100 && server.connected(1); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK_FALSE(server.connected(1));
}

TEST_CASE("random and mutated frames never take the server down", "[protocol][server][fuzz]") {
  auto o = options();
  std::vector<std::string> log;
  std::mutex log_mutex;
  o.log = [&](const std::string& line) {
    std::lock_guard lock(log_mutex);
    log.push_back(line);
  };
  TcpServer server(o);
  const auto port = server.port();
  std::mt19937 rng(12345);
  const auto good = encode_frame(MsgType::Hello, encode(Hello{kProtocolVersion, "", 0, token(0)}));
  for (int round = 0; round < 200; ++round) {
    asio::io_context io;
    tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), port});
    std::vector<std::uint8_t> bytes = good;
    if (round % 2) {  // random garbage
      bytes.resize(std::uniform_int_distribution<std::size_t>(1, 64)(rng));
      for (auto& b : bytes) b = std::uint8_t(rng());
    } else {  // a valid hello with a few bytes flipped
      for (int flips = 0; flips < 3; ++flips) bytes[rng() % bytes.size()] ^= std::uint8_t(1 + rng() % 255);
    }
    boost::system::error_code ec;
    asio::write(s, asio::buffer(bytes), ec);
    s.close(ec);
  }
  // Whatever got through, the server still answers a well-formed client (once it has
  // seen the close of a mutated hello that passed, which it handles asynchronously).
  for (int k = 0; k < 2; ++k) {
    auto answer = hello(port, {kProtocolVersion, "", k, token(k)});
    for (int retry = 0; retry < 50 && answer.second.find("already connected") != std::string::npos; ++retry) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      answer = hello(port, {kProtocolVersion, "", k, token(k)});
    }
    CHECK(answer.first == MsgType::Welcome);
  }
  std::lock_guard lock(log_mutex);
  CHECK(std::any_of(log.begin(), log.end(), [](const std::string& l) { return l.find("bad frame magic") != std::string::npos; }));
}

using test::read_frame;

TEST_CASE("answers to an earlier step are ignored, the step goes on with the right ones", "[protocol][server]") {
  // A client that reconnected may still send what it computed for a step before its
  // loss; the server must neither use it nor give up on the client.
  auto o = options();
  o.num_clients = 1;
  std::vector<std::string> log;
  std::mutex log_mutex;
  TcpServer server(o);
  Context ctx;
  ctx.params = test::defaults_for(Kind::Model, "fmnist_cnn");
  auto model = test::bundled().make<SplitModel>(Kind::Model, "fmnist_cnn", ctx);
  RemoteOptions ro;
  ro.step_timeout_s = 10;
  RemoteHooks hooks;
  hooks.log = [&](const std::string& line) {
    std::lock_guard lock(log_mutex);
    log.push_back(line);
  };
  auto rig = test::remote_rig(server, *model, {1, 28, 28}, 10, 1, ro, hooks);
  const auto shapes = rig.gradient_shapes;

  std::thread client([&] {
    asio::io_context io;
    tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), server.port()});
    hello(s, {kProtocolVersion, "", 0, token(0)});
    asio::write(s, asio::buffer(encode_frame(MsgType::Ready, encode_ready(0))));
    const StepRequest r = decode_step_request(read_frame(s).payload);
    const auto labels = at::tensor(std::vector<std::int64_t>(std::size_t(r.count), 1), at::kLong);
    const auto acts = at::zeros({r.count, 32, 14, 14});
    asio::write(s, asio::buffer(encode_frame(MsgType::Activations, encode(Activations{r.step - 1, acts, labels}))));
    asio::write(s, asio::buffer(encode_frame(MsgType::Activations, encode(Activations{r.step, acts, labels}))));
    const Gradient g = decode_gradient(read_frame(s).payload);
    ClientGrads stale{g.step - 1, {}}, fresh{g.step, {}};
    for (const auto& shape : shapes) stale.grads.push_back(at::ones(shape)), fresh.grads.push_back(at::zeros(shape));
    asio::write(s, asio::buffer(encode_frame(MsgType::ClientGrads, encode(stale))));
    asio::write(s, asio::buffer(encode_frame(MsgType::ClientGrads, encode(fresh))));
    read_frame(s);  // the Shutdown
  });
  REQUIRE(server.wait_all_connected(10.0).empty());
  const auto before = rig.client_weights()[0];
  PlannedStep step;
  step.step = 5;
  step.takes = {{0, 3}};
  step.offsets = {0};
  const double loss = rig.trainer->step(step);
  CHECK(std::isfinite(loss));
  CHECK(rig.parts->take_events().dropped.empty());  // no client may be dropped
  // The fresh gradients were zero: the stale ones (all ones) would have moved the weights.
  CHECK(at::equal(rig.client_weights()[0], before));
  server.shutdown_all("done");
  client.join();
  std::lock_guard lock(log_mutex);
  CHECK(std::count_if(log.begin(), log.end(), [](const std::string& l) { return l.find("ignored") != std::string::npos; }) == 2);
}
