// The PSL wire protocol (docs/protocol.md): length-prefixed frames with a type, carrying
// plain little-endian fields and tensors as dtype + shape + raw bytes. Nothing that can
// execute code crosses the wire. Every decoder checks sizes before it reads.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace psl::net {

inline constexpr std::uint32_t kMagic = 0x314c5350;  // "PSL1" little-endian
inline constexpr std::uint32_t kProtocolVersion = 5;  // 2: Ready; 3: per-client tokens; 4: clients keep their part; 5: learning rates
inline constexpr std::size_t kHeaderBytes = 12;      // magic u32, type u16, reserved u16, length u32
inline constexpr std::uint32_t kMaxFrameBytes = 256u << 20;

enum class MsgType : std::uint16_t {
  Hello = 1,        // client -> server: version, run id, client id, token
  Welcome = 2,      // server -> client: the resolved manifest
  Reject = 3,       // server -> client: why the handshake failed
  StepRequest = 4,  // server -> client: epoch, offset, count, the part version expected
  Activations = 5,  // client -> server: activations and labels of the step's samples
  Gradient = 6,     // server -> client: gradient of those activations
  ClientGrads = 7,  // client -> server: the client part's parameter gradients (shared sync)
  Heartbeat = 8,
  Shutdown = 9,     // server -> client: the run is over (reason)
  Error = 10,       // either way: a fatal problem (message)
  Ready = 11,       // client -> server: data and model loaded, steps may come; the part's version
  StepDone = 12,    // client -> server: it stepped its own part (local, fedavg sync)
  Update = 13,      // server -> client: the summed parameter gradient of a step (shared sync)
  PartRequest = 14, // server -> client: send your part's weights or whole state
  PartWeights = 15, // client -> server: the part's parameters and buffers
  PartState = 16,   // either way: weights and optimizer state (server -> client: take these)
  Average = 17,     // server -> client: the clients' averaged weights (fedavg sync)
};
const char* to_string(MsgType type);

class ProtocolError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct FrameHeader {
  MsgType type;
  std::uint32_t length;  // payload bytes
};
// Checks magic, type and the size limit.
FrameHeader decode_header(const std::uint8_t* bytes, std::uint32_t max_payload = kMaxFrameBytes);
using FrameHeaderBytes = std::array<std::uint8_t, kHeaderBytes>;
FrameHeaderBytes encode_header(MsgType type, std::uint32_t payload_bytes);
// Header and payload in one buffer. Senders of large payloads write the header and the
// payload as two buffers instead (one copy of the payload less).
std::vector<std::uint8_t> encode_frame(MsgType type, const std::vector<std::uint8_t>& payload);

class Writer {
 public:
  void u32(std::uint32_t v);
  void i64(std::int64_t v);
  void f64(double v);
  void str(const std::string& s);
  void tensor(const at::Tensor& t);  // float32 or int64, any shape
  std::vector<std::uint8_t> bytes;
};

class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : p_(data), end_(data + size) {}
  std::uint32_t u32();
  std::int64_t i64();
  double f64();
  std::string str(std::size_t max_bytes = 1u << 24);
  at::Tensor tensor();
  void expect_end() const;
  std::size_t remaining() const { return std::size_t(end_ - p_); }

 private:
  const std::uint8_t* take(std::size_t n);
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

struct Hello {
  std::uint32_t version = kProtocolVersion;
  std::string run_id;  // empty: the client takes the server's manifest as it is
  std::int64_t client = 0;
  std::string token;
};
struct StepRequest {
  std::int64_t step = 0, epoch = 0, offset = 0, count = 0;
  std::int64_t version = 0;  // the version the client's part must have
};
struct Activations {
  std::int64_t step = 0;
  at::Tensor activations;  // [count, ...] float32
  at::Tensor labels;       // [count] int64
};
struct Gradient {
  std::int64_t step = 0;
  at::Tensor gradient;
  double lr = 0;  // per-client parts: the rate of the client's optimizer step on it (shared: unused)
};
struct ClientGrads {
  std::int64_t step = 0;
  std::vector<at::Tensor> grads;
};
struct StepDone {
  std::int64_t step = 0;
  std::int64_t version = 0;  // of the part after its update
};
enum class PartKind : std::uint32_t { Weights = 1, State = 2 };
struct PartRequest {
  std::int64_t step = 0;
  PartKind kind = PartKind::Weights;
};
// Update: the step's summed parameter gradient, the version the client must hold, and the
// rate of the optimizer step that applies it (training.lr_schedule moves it).
struct SharedUpdate {
  std::int64_t step = 0;
  std::int64_t version = 0;
  double lr = 0;
  std::vector<at::Tensor> grads;
};
// PartWeights, PartState, Average: tensors of the client part and the version
// they belong to (Average: the version the client must have before applying them).
struct PartTensors {
  std::int64_t step = 0;
  std::int64_t version = 0;
  std::vector<at::Tensor> tensors;
};

std::vector<std::uint8_t> encode(const Hello& m);
std::vector<std::uint8_t> encode(const StepRequest& m);
std::vector<std::uint8_t> encode(const Activations& m);
std::vector<std::uint8_t> encode(const Gradient& m);
std::vector<std::uint8_t> encode(const ClientGrads& m);
std::vector<std::uint8_t> encode(const StepDone& m);
std::vector<std::uint8_t> encode(const PartRequest& m);
std::vector<std::uint8_t> encode(const PartTensors& m);
std::vector<std::uint8_t> encode(const SharedUpdate& m);
std::vector<std::uint8_t> encode_ready(std::int64_t version);
std::vector<std::uint8_t> encode_text(MsgType type, const std::string& text);  // Welcome, Reject, Shutdown, Error

Hello decode_hello(const std::vector<std::uint8_t>& payload);
StepRequest decode_step_request(const std::vector<std::uint8_t>& payload);
Activations decode_activations(const std::vector<std::uint8_t>& payload);
Gradient decode_gradient(const std::vector<std::uint8_t>& payload);
ClientGrads decode_client_grads(const std::vector<std::uint8_t>& payload);
StepDone decode_step_done(const std::vector<std::uint8_t>& payload);
PartRequest decode_part_request(const std::vector<std::uint8_t>& payload);
PartTensors decode_part_tensors(const std::vector<std::uint8_t>& payload);
SharedUpdate decode_shared_update(const std::vector<std::uint8_t>& payload);
std::int64_t decode_ready(const std::vector<std::uint8_t>& payload);
std::string decode_text(const std::vector<std::uint8_t>& payload);

// A run's id: a hash of its resolved manifest text (what Welcome carries).
std::string run_id_of(const std::string& manifest_text);

// Constant-time comparison of secrets.
bool same_secret(const std::string& a, const std::string& b);

}  // namespace psl::net
