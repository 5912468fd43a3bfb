#!/usr/bin/env bash
# Real client processes over loopback: parity with the simulated run, each
# transport.on_client_loss policy with a client that vanishes mid-run, and garbage
# thrown at a live server. Usage: tcp_integration.sh PSL_BINARY
set -euo pipefail
psl=$1
source "$(dirname "$0")/shell_support.sh"

cat > "$work/m.toml" <<'TOML'
name = "tcp-test"
seed = 5
[data]
type = "synthetic"
samples = 400
test_samples = 100
classes = 4
shape = [1, 6, 6]
noise = 1.0
[partitioner]
type = "extended_dirichlet"
classes_per_client = 2
[model]
type = "mlp"
hidden = [16]
[sampler]
type = "ugs"
[training]
clients = 4
batch_size = 32
epochs = 2
lr = 0.1
threads = 1
fused = false
[transport]
type = "tcp"
listen = "127.0.0.1:0"
step_timeout_s = 20.0
TOML

echo "== parity: 4 client processes versus the simulated run (threads = 1, unfused)"
"$psl" run "$work/m.toml" --out "$work/tcp" --quiet
"$psl" run "$work/m.toml" --set transport.type=simulated --out "$work/sim" --quiet
diff <(cut -d, -f1,2,5,6,12,13 "$work/tcp/metrics.csv") <(cut -d, -f1,2,5,6,12,13 "$work/sim/metrics.csv") \
  || fail "TCP and simulated metrics differ"
# The summary says where the TCP steps' time went: three phases, all spent, within training.
awk '/"remote_phase_s"/ {inside = 1; next}
     inside && /}/ {inside = 0}
     inside { gsub(/[",]/, ""); if ($2 > 0) { n++; sum += $2 } }
     /"train_wall_time_s"/ { gsub(/,/, ""); train = $2 }
     END { exit !(n == 3 && sum <= train) }' "$work/tcp/summary.json" || fail "summary.json lacks a sound remote_phase_s"
# Samplers saw the clients' observed step times, and the summary says so.
grep -q '"latency_source": "observed"' "$work/tcp/summary.json" || fail "TCP summary: latency_source is not observed"
grep -q '"latency_source": "delay_model"' "$work/sim/summary.json" || fail "simulated summary: latency_source"

same_numbers() {  # step, epoch, loss, batch size, test accuracy and loss of two runs
  diff <(cut -d, -f1,2,5,6,12,13 "$1/metrics.csv") <(cut -d, -f1,2,5,6,12,13 "$2/metrics.csv")
}

echo "== TLS (ephemeral CA, mutual TLS): the same numbers as the simulated run"
"$psl" run "$work/m.toml" --set transport.tls=true --out "$work/tls" --quiet
same_numbers "$work/tls" "$work/sim" || fail "TCP over TLS and simulated metrics differ"
[ -s "$work/tls/tls/ca.pem" ] && [ -s "$work/tls/tls/client-3.key" ] || fail "no ephemeral certificates in tls/"

echo "== token files and keys are created readable by their owner only"
strace -f -e trace=openat -o "$work/strace.txt" "$psl" run "$work/m.toml" --set transport.tls=true \
  --set training.max_steps=1 --out "$work/perm" --quiet >/dev/null
secrets=$(grep -E '(token|\.key)\.tmp' "$work/strace.txt" | grep O_CREAT || true)
[ -n "$secrets" ] || fail "strace saw no secret file created"
echo "$secrets" | grep -v ', 0600)' && fail "a secret file was created with wider permissions"
[ "$(stat -c %a "$work/perm/token")" = 600 ] || fail "token is $(stat -c %a "$work/perm/token")"

# Starts `psl serve` with a policy into $work/DIR (default: the policy's name); client 2
# vanishes as the fault flag says (default: at its 4th step).
# MANIFEST names another manifest than m.toml.
serve() {
  local policy=$1 dir=$work/${2:-$1} fault=${3:---exit-after-steps 3}
  "$psl" serve "${MANIFEST:-$work/m.toml}" --set transport.on_client_loss="$policy" --out "$dir" --quiet &
  server=$!
  pids+=("$server")
  wait_for_file "$dir/server.txt"
  address=$(cat "$dir/server.txt")
  for k in 0 1 3; do
    "$psl" client --connect "$address" --id $k --token-file "$dir/tokens/client-$k.token" --quiet & pids+=($!)
  done
  # shellcheck disable=SC2086
  "$psl" client --connect "$address" --id 2 --token-file "$dir/tokens/client-2.token" --quiet $fault &
  vanishing=$!
  pids+=("$vanishing")
}
summary() { grep -o "\"$2\": [^,]*" "$work/$1/summary.json" | head -1 | cut -d' ' -f2; }

echo "== on_client_loss = drop, with garbage thrown at the server"
serve drop
for _ in 1 2 3; do
  (exec 3<>"/dev/tcp/${address%:*}/${address##*:}" && head -c 300 /dev/urandom >&3) 2>/dev/null || true
done
wait "$server" || fail "drop: the server failed"
[ "$(summary drop status)" = '"complete"' ] || fail "drop: status $(summary drop status)"
[ "$(summary drop dropped_clients)" = 1 ] || fail "drop: dropped_clients $(summary drop dropped_clients)"
[ "$(summary drop lost_samples)" -gt 0 ] || fail "drop: no lost samples"

echo "== on_client_loss = abort"
serve abort
if wait "$server"; then fail "abort: the server should have stopped"; fi
[ "$(summary abort status)" = '"failed"' ] || fail "abort: status $(summary abort status)"
grep -q "on_client_loss = abort" "$work/abort/summary.json" || fail "abort: no reason in summary.json"

echo "== on_client_loss = wait: client 2 comes back"
serve wait
wait "$vanishing" || true
"$psl" client --connect "$address" --id 2 --token-file "$work/wait/tokens/client-2.token" --quiet & pids+=($!)
wait "$server" || fail "wait: the server failed"
[ "$(summary wait status)" = '"complete"' ] || fail "wait: status $(summary wait status)"
[ "$(summary wait train_samples)" = 800 ] || fail "wait: train_samples $(summary wait train_samples)"
same_numbers "$work/wait" "$work/sim" || fail "wait: a client lost at the activations changed the numbers"

echo "== on_client_loss = wait: client 2 dies in the gradient round of step 5 and comes back; nothing changes"
dir=$work/wait-gradient
serve wait wait-gradient "--exit-at-gradient 5"
wait "$vanishing" || true
"$psl" client --connect "$address" --id 2 --token-file "$dir/tokens/client-2.token" --quiet & pids+=($!)
wait "$server" || fail "wait-gradient: the server failed"
same_numbers "$dir" "$work/sim" || fail "wait-gradient: the lost gradient round changed the numbers"

echo "== local and fedavg sync over TCP: clients keep their parts; the same numbers as the simulated run"
for sync in local fedavg; do
  sed "s/^fused = false/fused = false\nclient_sync = \"$sync\"\nsync_every_steps = 3/" "$work/m.toml" > "$work/m-$sync.toml"
  "$psl" run "$work/m-$sync.toml" --out "$work/tcp-$sync" --quiet
  "$psl" run "$work/m-$sync.toml" --set transport.type=simulated --out "$work/sim-$sync" --quiet
  same_numbers "$work/tcp-$sync" "$work/sim-$sync" || fail "$sync: TCP and simulated metrics differ"
done
[ -s "$work/tcp-local/client-parts/client-3.part" ] || fail "local: psl run's clients kept no part"

echo "== fedavg, wait: client 2 dies in the gradient round and comes back holding its part (--state-dir)"
dir=$work/fedavg-wait
MANIFEST=$work/m-fedavg.toml serve wait fedavg-wait "--exit-at-gradient 5 --state-dir $work/fedavg-parts"
wait "$vanishing" || true
"$psl" client --connect "$address" --id 2 --token-file "$dir/tokens/client-2.token" --quiet \
  --state-dir "$work/fedavg-parts" & pids+=($!)
wait "$server" || fail "fedavg-wait: the server failed"
same_numbers "$dir" "$work/sim-fedavg" || fail "fedavg-wait: the lost gradient round changed the numbers"

echo "== local, wait: a client back without its part is refused, and says why"
dir=$work/local-nopart
MANIFEST=$work/m-local.toml serve wait local-nopart "--exit-at-gradient 5"
wait "$vanishing" || true
"$psl" client --connect "$address" --id 2 --token-file "$dir/tokens/client-2.token" --quiet & pids+=($!)
if wait "$server"; then fail "local-nopart: the server should have stopped"; fi
grep -q "which only the client held" "$dir/summary.json" || fail "local-nopart: summary.json does not say why"

echo "== fedavg: a server resumed from its checkpoint gives fresh clients their parts; nothing changes"
dir=$work/fedavg-resume
"$psl" serve "$work/m-fedavg.toml" --set training.epochs=3 --out "$dir" --quiet --stop-after-epochs 1 &
server=$!
pids+=("$server")
wait_for_file "$dir/server.txt"
address=$(cat "$dir/server.txt")
first=()
for k in 0 1 2 3; do
  "$psl" client --connect "$address" --id $k --token-file "$dir/tokens/client-$k.token" --quiet & first+=($!); pids+=($!)
done
wait "$server" || fail "fedavg-resume: the first server failed"
kill "${first[@]}" 2>/dev/null || true  # the next clients start from the seed, holding nothing
"$psl" serve --resume "$dir" --listen "$address" --quiet &
server=$!
pids+=("$server")
for k in 0 1 2 3; do
  "$psl" client --connect "$address" --id $k --token-file "$dir/tokens/client-$k.token" --quiet --connect-timeout 30 & pids+=($!)
done
wait "$server" || fail "fedavg-resume: the resumed server failed"
"$psl" run "$work/m-fedavg.toml" --set training.epochs=3 --set transport.type=simulated --out "$work/sim-fedavg-3" --quiet
same_numbers "$dir" "$work/sim-fedavg-3" || fail "fedavg-resume: the resumed run's numbers differ"

echo "== psl run starts a client it started again when it is killed (on_client_loss = wait)"
"$psl" run "$work/m.toml" --set transport.on_client_loss=wait --set training.epochs=30 --out "$work/restart" &
run=$!
pids+=("$run")
for _ in $(seq 300); do [ "$(wc -l < "$work/restart/metrics.csv" 2>/dev/null || echo 0)" -gt 40 ] && break; sleep 0.1; done
pkill -9 -f -- "--id 1 --token-file $work/restart/tokens/" || fail "restart: no client 1 to kill"
wait "$run" || fail "restart: the run failed after its client was killed"
"$psl" run "$work/m.toml" --set training.epochs=30 --set transport.type=simulated --out "$work/restart-sim" --quiet
same_numbers "$work/restart" "$work/restart-sim" || fail "restart: the numbers differ from the simulated run"

echo "== local sync: psl run restarts a killed client, which goes on with the part it kept"
"$psl" run "$work/m-local.toml" --set transport.on_client_loss=wait --set training.epochs=30 --out "$work/restart-local" &
run=$!
pids+=("$run")
for _ in $(seq 300); do [ "$(wc -l < "$work/restart-local/metrics.csv" 2>/dev/null || echo 0)" -gt 40 ] && break; sleep 0.1; done
pkill -9 -f -- "--id 1 --token-file $work/restart-local/tokens/" || fail "restart-local: no client 1 to kill"
wait "$run" || fail "restart-local: the run failed after its client was killed"
"$psl" run "$work/m-local.toml" --set training.epochs=30 --set transport.type=simulated --out "$work/restart-local-sim" --quiet
same_numbers "$work/restart-local" "$work/restart-local-sim" || fail "restart-local: the numbers differ from the simulated run"

echo "== the server dies after its first checkpoint and is resumed; the clients reconnect"
dir=$work/resume
"$psl" serve "$work/m.toml" --set training.epochs=3 --out "$dir" --quiet --stop-after-epochs 1 &
server=$!
pids+=("$server")
wait_for_file "$dir/server.txt"
address=$(cat "$dir/server.txt")
for k in 0 1 2 3; do
  "$psl" client --connect "$address" --id $k --token-file "$dir/tokens/client-$k.token" --quiet --connect-timeout 30 & pids+=($!)
done
wait "$server" || fail "resume: the first server failed"
grep -aq '"epochs_done":1' "$dir/checkpoint.bin" || fail "resume: no checkpoint after epoch 1"
"$psl" serve --resume "$dir" --listen "$address" --quiet || fail "resume: the resumed server failed"
[ "$(summary resume status)" = '"complete"' ] || fail "resume: status $(summary resume status)"
[ "$(summary resume epochs_completed)" = 3 ] || fail "resume: epochs_completed $(summary resume epochs_completed)"
[ "$(summary resume train_steps)" = 39 ] || fail "resume: train_steps $(summary resume train_steps)"
echo "== psl run killed: the client processes it started end with it"
"$psl" run "$work/m.toml" --set training.epochs=100000 --out "$work/killed" --quiet &
run=$!
pids+=("$run")
clients() { pgrep -f -- "--token-file $work/killed/tokens/" >/dev/null; }
for _ in $(seq 300); do [ "$(wc -l < "$work/killed/metrics.csv" 2>/dev/null || echo 0)" -gt 5 ] && break; sleep 0.1; done
clients || fail "killed: no client processes while the run trains"
kill -9 "$run"
for _ in $(seq 50); do clients || break; sleep 0.1; done
clients && fail "killed: client processes outlived their psl run"
echo "tcp integration: all checks passed"
