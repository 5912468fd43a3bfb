#!/usr/bin/env bash
# psl sweep --launcher slurm on a real single-node Slurm (tools/slurm-local): the grid is
# one job array, every run completes, psl sweep --status and psl report read the folder,
# a second submission submits nothing, and a run removed is submitted again alone.
# Skips (77) without root or Slurm's packages (tools/install-deps --tests installs them).
# Usage: slurm_sweep.sh SOURCE_DIR PSL_BINARY
set -euo pipefail
src=$1 psl=$2
source "$(dirname "$0")/shell_support.sh"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: the local Slurm needs root"; exit 77; }
for p in munged slurmctld slurmd sbatch; do
  command -v "$p" >/dev/null || { echo "SKIP: $p is not installed (tools/install-deps --tests)"; exit 77; }
done
slurm_dir=$work/slurm
stop_slurm() { "$src/tools/slurm-local" stop "$slurm_dir"; cleanup; }
trap stop_slurm EXIT
eval "$("$src/tools/slurm-local" start "$slurm_dir")"

tiny_manifest grid <<'TOML'
[sampler]
type = "ugs"
[training]
clients = 4
batch_size = 32
[sweep]
sampler.type = ["fls", "ugs"]
seed = [1, 2]
TOML
out=$work/sweep
wait_all() {  # until psl sweep --status says every run is complete (3 min at most)
  for _ in $(seq 360); do
    "$psl" sweep --status "$out" > "$work/status.txt" 2>&1 || true
    grep -q "^4 runs: 4 complete$" "$work/status.txt" && return 0
    grep -q "failed" "$work/status.txt" && { cat "$work/status.txt"; cat "$out"/slurm/*.log 2>/dev/null; fail "a run failed"; }
    sleep 0.5
  done
  cat "$work/status.txt"; cat "$slurm_dir/log/slurmctld.log" | tail -20; fail "the runs did not complete"
}

"$psl" sweep "$work/grid.toml" --launcher slurm --slurm-opt cpus-per-task=1 --slurm-opt time=10 --out "$out" | tee "$work/submit.txt"
grep -qE "submitted Slurm job [0-9]+: 4 runs \(array 0-3\)" "$work/submit.txt" || fail "no job array of 4 submitted"
wait_all
"$psl" report "$out" --format md > "$work/report.md" || fail "psl report could not read the sweep"
grep -q "| ugs |" "$work/report.md" || fail "the report lacks the ugs runs"

"$psl" sweep "$work/grid.toml" --launcher slurm --out "$out" | tee "$work/again.txt"
grep -q "nothing to submit: 4 runs complete" "$work/again.txt" || fail "a complete sweep was submitted again"

rm -rf "$out/sampler.type=fls,seed=2"
"$psl" sweep "$work/grid.toml" --launcher slurm --out "$out" | tee "$work/one.txt"
grep -qE "submitted Slurm job [0-9]+: 1 runs" "$work/one.txt" || fail "the removed run was not submitted alone"
wait_all
echo "slurm sweep: job arrays submitted, runs complete, status and report read them"
