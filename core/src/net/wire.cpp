#include "net/wire.hpp"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <bit>
#include <cmath>
#include <cstring>

static_assert(std::endian::native == std::endian::little, "the wire format is little-endian, as is this host");

namespace psl::net {

const char* to_string(MsgType type) {
  switch (type) {
    case MsgType::Hello: return "Hello";
    case MsgType::Welcome: return "Welcome";
    case MsgType::Reject: return "Reject";
    case MsgType::StepRequest: return "StepRequest";
    case MsgType::Activations: return "Activations";
    case MsgType::Gradient: return "Gradient";
    case MsgType::ClientGrads: return "ClientGrads";
    case MsgType::Heartbeat: return "Heartbeat";
    case MsgType::Shutdown: return "Shutdown";
    case MsgType::Error: return "Error";
    case MsgType::Ready: return "Ready";
    case MsgType::StepDone: return "StepDone";
    case MsgType::Update: return "Update";
    case MsgType::PartRequest: return "PartRequest";
    case MsgType::PartWeights: return "PartWeights";
    case MsgType::PartState: return "PartState";
    case MsgType::Average: return "Average";
  }
  return "?";
}

FrameHeader decode_header(const std::uint8_t* b, std::uint32_t max_payload) {
  std::uint32_t magic, length;
  std::uint16_t type;
  std::memcpy(&magic, b, 4);
  std::memcpy(&type, b + 4, 2);
  std::memcpy(&length, b + 8, 4);
  if (magic != kMagic) throw ProtocolError(fmt::format("bad frame magic {:08x}", magic));
  if (type < std::uint16_t(MsgType::Hello) || type > std::uint16_t(MsgType::Average))
    throw ProtocolError(fmt::format("unknown frame type {}", type));
  if (length > max_payload)
    throw ProtocolError(fmt::format("{} frame of {} bytes exceeds the limit of {}", to_string(MsgType(type)), length,
                                    max_payload));
  return {MsgType(type), length};
}

FrameHeaderBytes encode_header(MsgType type, std::uint32_t payload_bytes) {
  FrameHeaderBytes out{};
  const std::uint32_t magic = kMagic;
  const auto t = std::uint16_t(type);
  const std::uint16_t reserved = 0;
  std::memcpy(out.data(), &magic, 4);
  std::memcpy(out.data() + 4, &t, 2);
  std::memcpy(out.data() + 6, &reserved, 2);
  std::memcpy(out.data() + 8, &payload_bytes, 4);
  return out;
}

std::vector<std::uint8_t> encode_frame(MsgType type, const std::vector<std::uint8_t>& payload) {
  const auto header = encode_header(type, std::uint32_t(payload.size()));
  std::vector<std::uint8_t> out(kHeaderBytes + payload.size());
  std::memcpy(out.data(), header.data(), kHeaderBytes);
  if (!payload.empty()) std::memcpy(out.data() + kHeaderBytes, payload.data(), payload.size());
  return out;
}

namespace {
template <class T>
void put(std::vector<std::uint8_t>& out, T v) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}
}  // namespace

void Writer::u32(std::uint32_t v) { put(bytes, v); }
void Writer::i64(std::int64_t v) { put(bytes, v); }
void Writer::f64(double v) { put(bytes, v); }
void Writer::str(const std::string& s) {
  u32(std::uint32_t(s.size()));
  bytes.insert(bytes.end(), s.begin(), s.end());
}
void Writer::tensor(const at::Tensor& t) {
  const at::Tensor c = t.contiguous();
  std::uint32_t dtype;
  if (c.scalar_type() == at::kFloat) dtype = 1;
  else if (c.scalar_type() == at::kLong) dtype = 2;
  else throw ProtocolError(fmt::format("cannot send a tensor of type {}", c10::toString(c.scalar_type())));
  u32(dtype);
  u32(std::uint32_t(c.dim()));
  for (auto d : c.sizes()) i64(d);
  const auto n = std::size_t(c.numel()) * c.element_size();
  const auto* p = static_cast<const std::uint8_t*>(c.data_ptr());
  bytes.insert(bytes.end(), p, p + n);
}

const std::uint8_t* Reader::take(std::size_t n) {
  if (std::size_t(end_ - p_) < n)
    throw ProtocolError(fmt::format("truncated payload: needs {} more bytes, has {}", n, end_ - p_));
  const auto* at = p_;
  p_ += n;
  return at;
}
std::uint32_t Reader::u32() {
  std::uint32_t v;
  std::memcpy(&v, take(4), 4);
  return v;
}
std::int64_t Reader::i64() {
  std::int64_t v;
  std::memcpy(&v, take(8), 8);
  return v;
}
double Reader::f64() {
  double v;
  std::memcpy(&v, take(8), 8);
  return v;
}
std::string Reader::str(std::size_t max_bytes) {
  const auto n = u32();
  if (n > max_bytes) throw ProtocolError(fmt::format("string of {} bytes exceeds {}", n, max_bytes));
  const auto* p = take(n);
  return std::string(reinterpret_cast<const char*>(p), n);
}
at::Tensor Reader::tensor() {
  const auto dtype = u32();
  if (dtype != 1 && dtype != 2) throw ProtocolError(fmt::format("unknown tensor dtype {}", dtype));
  const auto ndim = u32();
  if (ndim > 8) throw ProtocolError(fmt::format("tensor of {} dimensions", ndim));
  std::vector<std::int64_t> shape;
  std::size_t numel = 1;
  for (std::uint32_t i = 0; i < ndim; ++i) {
    const auto d = i64();
    if (d < 0 || d > (std::int64_t(1) << 31)) throw ProtocolError(fmt::format("tensor dimension {} out of range", d));
    shape.push_back(d);
    numel *= std::size_t(d);
    if (numel > kMaxFrameBytes) throw ProtocolError("tensor larger than a frame");
  }
  const auto type = dtype == 1 ? at::kFloat : at::kLong;
  const std::size_t bytes = numel * (dtype == 1 ? 4 : 8);
  const auto* p = take(bytes);
  at::Tensor t = at::empty(shape, type);
  if (bytes) std::memcpy(t.data_ptr(), p, bytes);
  return t;
}
void Reader::expect_end() const {
  if (p_ != end_) throw ProtocolError(fmt::format("{} unexpected bytes after the message", end_ - p_));
}

std::vector<std::uint8_t> encode(const Hello& m) {
  Writer w;
  w.u32(m.version);
  w.str(m.run_id);
  w.i64(m.client);
  w.str(m.token);
  return w.bytes;
}
std::vector<std::uint8_t> encode(const StepRequest& m) {
  Writer w;
  w.i64(m.step);
  w.i64(m.epoch);
  w.i64(m.offset);
  w.i64(m.count);
  w.i64(m.version);
  return w.bytes;
}
std::vector<std::uint8_t> encode(const Activations& m) {
  Writer w;
  w.i64(m.step);
  w.tensor(m.activations);
  w.tensor(m.labels);
  return w.bytes;
}
std::vector<std::uint8_t> encode(const Gradient& m) {
  Writer w;
  w.i64(m.step);
  w.tensor(m.gradient);
  w.f64(m.lr);
  return w.bytes;
}
std::vector<std::uint8_t> encode(const ClientGrads& m) {
  Writer w;
  w.i64(m.step);
  w.u32(std::uint32_t(m.grads.size()));
  for (const auto& t : m.grads) w.tensor(t);
  return w.bytes;
}
std::vector<std::uint8_t> encode(const StepDone& m) {
  Writer w;
  w.i64(m.step);
  w.i64(m.version);
  return w.bytes;
}
std::vector<std::uint8_t> encode(const PartRequest& m) {
  Writer w;
  w.i64(m.step);
  w.u32(std::uint32_t(m.kind));
  return w.bytes;
}
std::vector<std::uint8_t> encode(const PartTensors& m) {
  Writer w;
  w.i64(m.step);
  w.i64(m.version);
  w.u32(std::uint32_t(m.tensors.size()));
  for (const auto& t : m.tensors) w.tensor(t);
  return w.bytes;
}
std::vector<std::uint8_t> encode(const SharedUpdate& m) {
  Writer w;
  w.i64(m.step);
  w.i64(m.version);
  w.f64(m.lr);
  w.u32(std::uint32_t(m.grads.size()));
  for (const auto& t : m.grads) w.tensor(t);
  return w.bytes;
}
std::vector<std::uint8_t> encode_ready(std::int64_t version) {
  Writer w;
  w.i64(version);
  return w.bytes;
}
std::vector<std::uint8_t> encode_text(MsgType, const std::string& text) {
  Writer w;
  w.str(text);
  return w.bytes;
}

Hello decode_hello(const std::vector<std::uint8_t>& payload) {
  Reader r(payload.data(), payload.size());
  Hello m;
  m.version = r.u32();
  m.run_id = r.str(256);
  m.client = r.i64();
  m.token = r.str(4096);
  r.expect_end();
  return m;
}
namespace {
std::vector<at::Tensor> tensor_list(Reader& r) {
  const auto n = r.u32();
  if (n > 4096) throw ProtocolError(fmt::format("list of {} tensors", n));
  std::vector<at::Tensor> out;
  for (std::uint32_t i = 0; i < n; ++i) out.push_back(r.tensor());
  return out;
}
// A rate a client will step with: a finite number, not below zero.
double learning_rate(Reader& r) {
  const double lr = r.f64();
  if (!std::isfinite(lr) || lr < 0) throw ProtocolError(fmt::format("a learning rate of {}", lr));
  return lr;
}
}  // namespace
StepRequest decode_step_request(const std::vector<std::uint8_t>& payload) {
  Reader r(payload.data(), payload.size());
  StepRequest m;
  m.step = r.i64();
  m.epoch = r.i64();
  m.offset = r.i64();
  m.count = r.i64();
  m.version = r.i64();
  r.expect_end();
  return m;
}
Activations decode_activations(const std::vector<std::uint8_t>& payload) {
  Reader r(payload.data(), payload.size());
  Activations m;
  m.step = r.i64();
  m.activations = r.tensor();
  m.labels = r.tensor();
  r.expect_end();
  return m;
}
Gradient decode_gradient(const std::vector<std::uint8_t>& payload) {
  Reader r(payload.data(), payload.size());
  Gradient m;
  m.step = r.i64();
  m.gradient = r.tensor();
  m.lr = learning_rate(r);
  r.expect_end();
  return m;
}
ClientGrads decode_client_grads(const std::vector<std::uint8_t>& payload) {
  Reader r(payload.data(), payload.size());
  ClientGrads m;
  m.step = r.i64();
  m.grads = tensor_list(r);
  r.expect_end();
  return m;
}
StepDone decode_step_done(const std::vector<std::uint8_t>& payload) {
  Reader r(payload.data(), payload.size());
  StepDone m;
  m.step = r.i64();
  m.version = r.i64();
  r.expect_end();
  return m;
}
PartRequest decode_part_request(const std::vector<std::uint8_t>& payload) {
  Reader r(payload.data(), payload.size());
  PartRequest m;
  m.step = r.i64();
  const auto kind = r.u32();
  if (kind != std::uint32_t(PartKind::Weights) && kind != std::uint32_t(PartKind::State))
    throw ProtocolError(fmt::format("unknown part kind {}", kind));
  m.kind = PartKind(kind);
  r.expect_end();
  return m;
}
PartTensors decode_part_tensors(const std::vector<std::uint8_t>& payload) {
  Reader r(payload.data(), payload.size());
  PartTensors m;
  m.step = r.i64();
  m.version = r.i64();
  m.tensors = tensor_list(r);
  r.expect_end();
  return m;
}
SharedUpdate decode_shared_update(const std::vector<std::uint8_t>& payload) {
  Reader r(payload.data(), payload.size());
  SharedUpdate m;
  m.step = r.i64();
  m.version = r.i64();
  m.lr = learning_rate(r);
  m.grads = tensor_list(r);
  r.expect_end();
  return m;
}
std::int64_t decode_ready(const std::vector<std::uint8_t>& payload) {
  Reader r(payload.data(), payload.size());
  const auto version = r.i64();
  r.expect_end();
  return version;
}
std::string decode_text(const std::vector<std::uint8_t>& payload) {
  Reader r(payload.data(), payload.size());
  auto s = r.str();
  r.expect_end();
  return s;
}

std::string run_id_of(const std::string& manifest_text) {
  return fmt::format("{:016x}", std::hash<std::string>{}(manifest_text));
}

bool same_secret(const std::string& a, const std::string& b) {
  // Every byte of the longer string is looked at, whatever differs first.
  const std::size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? (unsigned char)a[i] : 0;
    const unsigned char y = i < b.size() ? (unsigned char)b[i] : 0;
    diff |= (unsigned char)(x ^ y);
  }
  return diff == 0;
}

}  // namespace psl::net
