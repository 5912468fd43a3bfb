#!/usr/bin/env bash
# docs/deployment.md's openssl commands, run as written, make certificates that a
# `psl serve` with mutual TLS and a `psl client` accept. Usage: tls_openssl_certs.sh SOURCE_DIR PSL_BINARY
set -euo pipefail
src=$1
psl=$2
source "$(dirname "$0")/shell_support.sh"
command -v openssl >/dev/null || { echo "openssl is not installed"; exit 77; }

# The fenced block after the marker, exactly as a reader copies it.
awk '/<!-- openssl-certs/ {found = 1; next} found && /^```sh/ {inside = 1; next} inside && /^```/ {exit} inside {print}' \
  "$src/docs/deployment.md" > "$work/make-certs.sh"
[ -s "$work/make-certs.sh" ] || fail "no openssl block in docs/deployment.md"
(cd "$work" && bash -euo pipefail make-certs.sh 2>"$work/openssl.log") || fail "the documented commands failed: $(cat "$work/openssl.log")"

cat > "$work/m.toml" <<'TOML'
name = "tls-own-certificates"
[data]
type = "synthetic"
samples = 200
test_samples = 50
classes = 4
shape = [1, 6, 6]
[model]
type = "mlp"
hidden = [8]
[sampler]
type = "ugs"
[training]
clients = 1
batch_size = 32
threads = 1
[transport]
type = "tcp"
listen = "127.0.0.1:0"
tls = true
tls_cert = "server.pem"
tls_key = "server.key"
tls_ca = "ca.pem"
TOML
"$psl" serve "$work/m.toml" --out "$work/run" --quiet &
server=$!
pids+=("$server")
wait_for_file "$work/run/server.txt"
address=$(cat "$work/run/server.txt")
"$psl" client --connect "localhost:${address##*:}" --id 0 --token-file "$work/run/tokens/client-0.token" \
  --tls-ca "$work/ca.pem" --tls-cert "$work/client-0.pem" --tls-key "$work/client-0.key" --quiet & pids+=($!)
wait "$server" || fail "the server failed"
grep -q '"status": "complete"' "$work/run/summary.json" || fail "the run is not complete"
echo "tls with the documented openssl certificates: all checks passed"
