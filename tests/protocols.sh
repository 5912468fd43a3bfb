#!/usr/bin/env bash
# Every training protocol, as a user runs it: it lowers the loss; real client processes
# over TCP give the same numbers and the same byte counts as the simulated run; the
# bytes counted fit in the bytes that crossed the sockets; a resumed run equals an
# uninterrupted one. Under a cosine learning-rate schedule, so that the rates sent to real
# clients are checked too. Usage: protocols.sh PSL_BINARY
set -euo pipefail
psl=$1
source "$(dirname "$0")/shell_support.sh"

tiny_manifest m <<'TOML'
[sampler]
type = "ugs"
[protocol.sfl_v1]
round_steps = 3
[protocol.sfl_v2]
round_steps = 3
[protocol.sglr]
server_lr_scale = 2.0
[training]
clients = 4
batch_size = 32
epochs = 3
lr = 0.1
lr_schedule = "cosine"
threads = 1
fused = false
[transport]
type = "tcp"
listen = "127.0.0.1:0"
step_timeout_s = 20.0
TOML

"$psl" plugins protocol > "$work/plugins.txt"
for p in psl sl sfl_v1 sfl_v2 sglr; do grep -q "^  $p  " "$work/plugins.txt" || fail "psl plugins protocol does not list $p"; done

# step, epoch, loss, batch size, test accuracy and loss, and the four byte columns
numbers() { cut -d, -f1,2,5,6,12,13,16-19 "$1/metrics.csv"; }
json_number() { grep -o "\"$2\": [0-9.e+]*" "$1/summary.json" | head -1 | awk '{print $2}'; }

for p in psl sl sfl_v1 sfl_v2 sglr; do
  echo "== $p"
  "$psl" run "$work/m.toml" --set protocol.type=$p --set transport.type=simulated --out "$work/sim-$p" --quiet >/dev/null
  grep -q "\"protocol\": \"$p\"" "$work/sim-$p/summary.json" || fail "$p: summary.json does not name the protocol"

  # The loss falls: the mean of the last 5 steps below the mean of the first 5.
  awk -F, 'NR > 1 && $6 != "" { loss[n++] = $5 }
           END { for (i = 0; i < 5; i++) { first += loss[i]; last += loss[n - 1 - i] }
                 exit !(last < 0.8 * first) }' "$work/sim-$p/metrics.csv" || fail "$p: the loss did not fall"

  "$psl" run "$work/m.toml" --set protocol.type=$p --out "$work/tcp-$p" --quiet >/dev/null
  diff <(numbers "$work/tcp-$p") <(numbers "$work/sim-$p") || fail "$p: TCP and simulated metrics differ"
  for key in bytes_up bytes_down activations_up gradients_down weights_up weights_down; do
    [ "$(json_number "$work/tcp-$p" $key)" = "$(json_number "$work/sim-$p" $key)" ] ||
      fail "$p: $key counted on the sockets differs from the simulated count"
  done
  # What was counted crossed the sockets, in frames that add headers, requests and evaluations.
  up=$(json_number "$work/tcp-$p" bytes_up) received=$(json_number "$work/tcp-$p" frame_bytes_received)
  down=$(json_number "$work/tcp-$p" bytes_down) sent=$(json_number "$work/tcp-$p" frame_bytes_sent)
  awk -v u="$up" -v r="$received" -v d="$down" -v s="$sent" 'BEGIN { exit !(u > 0 && u <= r && d > 0 && d <= s) }' ||
    fail "$p: counted $up up / $down down, but the sockets carried $received / $sent"

  # Stopped after an epoch and resumed: the same numbers as the uninterrupted run.
  "$psl" run "$work/m.toml" --set protocol.type=$p --set transport.type=simulated --out "$work/resumed-$p" \
    --quiet --stop-after-epochs 1 >/dev/null
  "$psl" run --resume "$work/resumed-$p" --quiet >/dev/null
  diff <(numbers "$work/resumed-$p") <(numbers "$work/sim-$p") || fail "$p: the resumed run differs"
done

echo "== the protocols differ where their definitions do"
sim_time() { json_number "$work/sim-$1" simulated_time_s; }
awk -v sl="$(sim_time sl)" -v psl="$(sim_time psl)" 'BEGIN { exit !(sl > 2 * psl) }' ||
  fail "sl's clients take turns, so its simulated time should far exceed psl's"
awk -v w="$(json_number "$work/sim-sglr" weights_up)" 'BEGIN { exit !(w == 0) }' || fail "sglr never moves client weights"
awk -v w="$(json_number "$work/sim-psl" weights_up)" 'BEGIN { exit !(w > 0) }' ||
  fail "psl (shared) sends parameter gradients up"
echo "== with one client per step: sl, and SplitFed averaging every step, are psl with a shared part; sglr is psl with local parts"
one() { "$psl" run "$work/m.toml" --set transport.type=simulated --set sampler.type=random_clients \
          --set sampler.clients_per_step=1 --set training.epochs=1 "$@" --quiet > /dev/null; }
one --set protocol.type=sl --out "$work/one-sl"
one --set protocol.type=psl --out "$work/one-shared"
diff <(cut -d, -f1,5,12 "$work/one-sl/metrics.csv") <(cut -d, -f1,5,12 "$work/one-shared/metrics.csv") ||
  fail "sl with one client per step differs from psl's shared part"
one --set protocol.type=sglr --set protocol.sglr.server_lr_scale=1.0 --out "$work/one-sglr"
one --set protocol.type=psl --set training.client_sync=local --out "$work/one-local"
diff <(cut -d, -f1,5,12 "$work/one-sglr/metrics.csv") <(cut -d, -f1,5,12 "$work/one-local/metrics.csv") ||
  fail "sglr with one client per step differs from psl's local parts"
# SplitFed averaging after every step, weighted by samples used, with one client per step:
# every part (and server copy) becomes the one that trained, so the losses are psl's shared ones.
for p in sfl_v1 sfl_v2; do
  one --set protocol.type=$p --set protocol.$p.round_steps=1 --out "$work/one-$p"
  diff <(cut -d, -f1,5 "$work/one-$p/metrics.csv") <(cut -d, -f1,5 "$work/one-shared/metrics.csv") ||
    fail "$p averaging every step with one client per step differs from psl's shared part"
done
echo "protocols: all checks passed"
