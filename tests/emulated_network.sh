#!/usr/bin/env bash
# transport.emulate_network on real sockets (needs root; skipped otherwise): a client whose
# link has 200 ms of latency is observed at the four one-way latencies of its step, one
# limited to 1 Mbit/s at the time its bytes need at that rate (each within 20%); the
# namespaces and links are gone after the run, and after a run killed with SIGKILL; a
# user without the rights is refused with a message. Usage: emulated_network.sh PSL_BINARY
set -euo pipefail
psl=$(realpath "$1")
source "$(dirname "$0")/shell_support.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespaces, traffic control)"; exit 77; }
command -v ip > /dev/null && command -v tc > /dev/null || { echo "SKIP: no iproute2"; exit 77; }

cd "$work"
cat > devices.csv <<'CSV'
client,compute_s_per_sample,bandwidth_mbps,latency_s
0,0,100,0.2
1,0,1,0
CSV
cat > m.toml <<'TOML'
name = "emulated"
[data]
type = "synthetic"
samples = 128
test_samples = 32
classes = 4
shape = [1, 6, 6]
[partitioner]
type = "iid"
[model]
type = "mlp"
hidden = [1024]
[sampler]
type = "fls"
[delay]
type = "trace"
file = "devices.csv"
[training]
clients = 2
batch_size = 32
epochs = 1
client_sync = "local"
threads = 1
[transport]
type = "tcp"
emulate_network = true
step_timeout_s = 30.0
TOML

ours() { ip netns list | grep -c "^psl$(printf %x "$1")-" || true; }

echo "== latency held in the senders, bandwidth from tbf"
"$psl" run m.toml --out run --quiet > /dev/null
# summary.json's observed_step_s: one client per line
read -r latency_client bandwidth_client <<< "$(awk '/"observed_step_s"/ {on = 1; next} on && /]/ {exit}
                                                    on {gsub(/[ ,]/, ""); printf "%s ", $0}' run/summary.json)"
# Client 0: request and gradient held 0.2 s by the server, activations and answer by the client.
awk -v o="$latency_client" 'BEGIN { exit !(o > 0.8 * 0.8 && o < 1.2 * 0.8) }' ||
  fail "client 0 observed at $latency_client s a step, expected 0.8 (4 x 200 ms) within 20%"
# Client 1: 16 samples' activations (4096 bytes and an 8-byte label each) up, their gradients down, at 125,000 bytes/s.
expected=$(awk 'BEGIN { print (16 * (4096 + 8) + 16 * 4096) / 125000 }')
awk -v o="$bandwidth_client" -v e="$expected" 'BEGIN { exit !(o > 0.8 * e && o < 1.2 * e) }' ||
  fail "client 1 observed at $bandwidth_client s a step, expected $expected s within 20%"
grep -q '"status": "complete"' run/summary.json || fail "the run did not complete"
[ -z "$(ip -o link show type bridge | grep -o 'psl[0-9a-f]*br' || true)" ] ||
  fail "a bridge is left after the run: $(ip -o link show type bridge)"

echo "== nothing left after the run, nor after a run killed with SIGKILL"
"$psl" run m.toml --set training.epochs=50 --out killed --quiet > /dev/null 2>&1 & run=$!
pids+=("$run")
for _ in $(seq 100); do [ "$(ours "$run")" = 2 ] && break; sleep 0.1; done
[ "$(ours "$run")" = 2 ] || fail "the run made no namespaces"
kill -9 "$run"
for _ in $(seq 50); do [ "$(ours "$run")" = 0 ] && break; sleep 0.1; done
[ "$(ours "$run")" = 0 ] || fail "the namespaces of the killed run are left: $(ip netns list)"
# The kernel takes down a namespace's links a moment after the namespace.
for _ in $(seq 50); do ip link show | grep -q "psl$(printf %x "$run")" || break; sleep 0.1; done
ip link show | grep -q "psl$(printf %x "$run")" && fail "links of the killed run are left"

echo "== without the rights: refused, with the reason"
if command -v runuser > /dev/null; then
  chmod 755 "$work" && chmod 644 m.toml devices.csv && mkdir -m 777 "$work/scratch"
  if runuser -u nobody -- "$psl" run m.toml --out "$work/scratch/nobody" --quiet > out.txt 2>&1; then
    fail "a run without root was not refused"
  fi
  grep -q "transport.emulate_network needs root" out.txt || { cat out.txt; fail "the refusal does not say why"; }
fi
echo "emulated network: all checks passed"
