#!/usr/bin/env bash
# psl sweep under faults a user causes: the sweep killed with -9 (its runs end with it;
# rerun, unfinished runs resume from their checkpoints or start again, never on top of
# another writer), two sweeps on one folder, a sweep of changed settings over complete
# runs (refused), and a report of the result.
# Usage: sweep_faults.sh PSL_BINARY
set -euo pipefail
psl=$1
source "$(dirname "$0")/shell_support.sh"

cat > "$work/m.toml" <<'TOML'
name = "sweep-faults"
seed = 3
[data]
type = "synthetic"
samples = 4000
test_samples = 200
classes = 4
shape = [1, 6, 6]
[partitioner]
type = "iid"
[model]
type = "mlp"
hidden = [16]
[sampler]
type = "ugs"
[training]
clients = 4
batch_size = 32
epochs = 400
threads = 1
[sweep]
seed = [1, 2]
TOML
out=$work/sweep
runs() { pgrep -f -- "--out $out/seed=" || true; }

echo "== the sweep is killed with -9 while its run trains: the run ends with it"
"$psl" sweep "$work/m.toml" --out "$out" --quiet &
sweep=$!
pids+=("$sweep")
# Epochs take a fraction of a second: by the second look the checkpoint may be of a later
# epoch, so both looks accept any epoch from 2 on.
resumable() { grep -aqsE '"epochs_done":([2-9]|[1-9][0-9]+)[,}]' "$out/seed=1/checkpoint.bin"; }
for _ in $(seq 300); do resumable && break; sleep 0.1; done
resumable || fail "no checkpoint of epoch 2 or later to resume from"
[ -n "$(runs)" ] || fail "no psl run of the sweep is running"
echo "== a second sweep on the same folder is refused"
status=0
"$psl" sweep "$work/m.toml" --out "$out" --quiet 2>"$work/second.txt" || status=$?
[ "$status" = 2 ] || fail "a second sweep exited $status"
grep -q "is being written by another psl process (pid $sweep)" "$work/second.txt" || fail "no holder pid: $(cat "$work/second.txt")"
kill -9 "$sweep"
for _ in $(seq 50); do [ -z "$(runs)" ] && break; sleep 0.1; done
[ -z "$(runs)" ] || fail "the sweep's run outlived it: $(runs)"

echo "== rerun: the unfinished run resumes from its checkpoint and ends complete"
# Its summary says it failed (as if its loss had diverged after the checkpoint): the
# rerun resumes it, and says what it failed with, since a failure that is not chance
# comes back.
sed -i 's/"status": "running",/"status": "failed", "error": "a failure before the rerun",/' "$out/seed=1/summary.json"
"$psl" sweep "$work/m.toml" --out "$out" 2>"$work/rerun.txt" || fail "the rerun failed: $(cat "$work/rerun.txt")"
grep -q "seed=1: resuming from its checkpoint" "$work/rerun.txt" || fail "seed=1 was not resumed: $(cat "$work/rerun.txt")"
grep -q "seed=1: failed before (a failure before the rerun); resuming it" "$work/rerun.txt" ||
  fail "the earlier failure was not said: $(cat "$work/rerun.txt")"
grep -q '"status": "complete"' "$out/seed=1/summary.json" || fail "seed=1 is not complete"
grep -q '"train_steps": 50000' "$out/seed=1/summary.json" || fail "seed=1 has not 400 epochs of 125 steps"

echo "== a run changed after it completed is run again, the old one kept aside"
echo "7,0,0.1,0.1,1.0,32,3,0.1,0.1,0,0,," >> "$out/seed=2/metrics.csv"
"$psl" report "$out" --format md >/dev/null 2>"$work/report.txt" && fail "report accepted a folder with a stray row"
grep -q "seed=2: metrics.csv has 35 bytes after the final summary" "$work/report.txt" || fail "report: $(cat "$work/report.txt")"
echo "== a sweep whose settings changed refuses the folder's complete run of the old ones"
status=0
"$psl" sweep "$work/m.toml" --out "$out" --set training.epochs=2 2>"$work/changed.txt" || status=$?
[ "$status" = 2 ] || fail "a sweep of other settings over a complete run exited $status"
grep -q "seed=1 holds a complete run of other settings: .* ('epochs = 400' there, 'epochs = 2' now)" "$work/changed.txt" ||
  fail "the refusal did not say why: $(cat "$work/changed.txt")"
if ls -d "$out"/seed=2.replaced-* >/dev/null 2>&1; then fail "a refused sweep moved a run aside"; fi
mv "$out/seed=1" "$work/seed=1.kept"
"$psl" sweep "$work/m.toml" --out "$out" --set training.epochs=2 2>"$work/again.txt" || fail "sweep: $(cat "$work/again.txt")"
ls -d "$out"/seed=2.replaced-* >/dev/null || fail "the inconsistent run was not kept aside"
grep -q "seed=2: unfinished and not resumable: its manifest.toml differs from the one this sweep resolves at line [0-9]* ('epochs = 400' there, 'epochs = 2' now)" "$work/again.txt" ||
  fail "the reason was not said: $(cat "$work/again.txt")"
"$psl" report "$out" --format md >/dev/null || fail "the report refused the repaired sweep"
echo "== a run that fails is named with its error, and again when a rerun starts it afresh"
diverging=$work/diverging
status=0
"$psl" sweep "$work/m.toml" --out "$diverging" --set training.lr=1e12 --set training.epochs=3 \
  --set 'sweep.seed=[1]' 2>"$work/diverged.txt" || status=$?
[ "$status" = 1 ] || fail "a sweep whose run failed exited $status"
grep -q "seed=1: FAILED: the loss is [-a-z]* at step [0-9]*: lower training.lr (see $diverging/seed=1/log.txt)" \
  "$work/diverged.txt" || fail "the run's error was not said: $(cat "$work/diverged.txt")"
status=0
"$psl" sweep --status "$diverging" > "$work/diverged-status.txt" || status=$?
[ "$status" = 1 ] || fail "psl sweep --status of a sweep with a failed run exited $status"
grep -q "^failed  *seed=1  (0 of 3 epochs: the loss is [-a-z]* at step [0-9]*: lower training.lr; see $diverging/seed=1/log.txt)$" \
  "$work/diverged-status.txt" || fail "--status did not say why the run failed: $(cat "$work/diverged-status.txt")"
status=0
"$psl" sweep "$work/m.toml" --out "$diverging" --set training.lr=1e12 --set training.epochs=3 \
  --set 'sweep.seed=[1]' 2>"$work/diverged-again.txt" || status=$?
[ "$status" = 1 ] || fail "the rerun of a diverging run exited $status"
grep -q "seed=1: failed before (the loss is [-a-z]* at step [0-9]*: lower training.lr) and not resumable: it has no checkpoint; kept as" \
  "$work/diverged-again.txt" || fail "the rerun did not say the run had failed: $(cat "$work/diverged-again.txt")"
echo "sweep faults: all checks passed"
