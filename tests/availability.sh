#!/usr/bin/env bash
# Clients that come and go (docs/time-model.md, "Availability"), as a user meets them:
# `psl sample --schedule` with a trace's availability windows schedules no sample of an
# offline client, every sample still once per epoch, and the clock waits when no client
# with data is online; synthetic on/off periods give the same numbers after a resume.
# Usage: availability.sh PSL_BINARY
set -euo pipefail
psl=$1
source "$(dirname "$0")/shell_support.sh"

cat > "$work/devices.csv" <<'CSV'
client,compute_s_per_sample,bandwidth_mbps
0,0.001,100
CSV
# Clients 0-1 online from the start for a while and back much later, 2-3 only later.
cat > "$work/windows.csv" <<'CSV'
client,online_from_s,online_until_s
0,0,0.5
0,4,1000
1,0,0.3
1,5,1000
2,1.5,1000
3,2,2.2
3,3,1000
CSV
tiny_manifest m <<'TOML'
[delay]
type = "trace"
file = "devices.csv"
availability_file = "windows.csv"
[training]
clients = 4
batch_size = 32
epochs = 2
lr = 0.1
TOML

for sampler in ugs lds fls fpls random_clients; do
  echo "== $sampler"
  "$psl" sample "$work/m.toml" --set sampler.type=$sampler --out "$work/s-$sampler" --quiet \
    --schedule "$work/s-$sampler.csv" > /dev/null
  # Each step's start on the clock: the end of the one before plus the wait for clients.
  awk -F, 'NR == FNR { if (FNR > 1 && $6 != "") start[$1] = $3 - $9 + $21; next }
           FNR == 1 { next }
           { t = start[$2] + 1e-6; c = $3; ok = 0  # metrics.csv has 9 digits: the start is near, not exact
             if (c == 0) ok = t - 2e-6 < 0.5 || t >= 4; if (c == 1) ok = t - 2e-6 < 0.3 || t >= 5
             if (c == 2) ok = t >= 1.5; if (c == 3) ok = (t >= 2 && t - 2e-6 < 2.2) || t >= 3
             if (!ok) { print "step " $2 ": client " c " is offline at " t " s"; bad = 1 } }
           END { exit bad }' "$work/s-$sampler/metrics.csv" "$work/s-$sampler.csv" ||
    fail "$sampler scheduled an offline client"
  # The epoch contract: every sample once per epoch (partition.csv has each client's size).
  awk -F, 'NR == FNR { if (FNR > 1) size[$1] = $2; next }
           FNR > 1 { used[$1 "," $3] += $4 }
           END { for (e = 0; e < 2; e++) for (c in size) if (used[e "," c] != size[c]) {
                   print "epoch " e ", client " c ": " used[e "," c] " of " size[c]; bad = 1 }
                 exit bad }' "$work/s-$sampler/partition.csv" "$work/s-$sampler.csv" ||
    fail "$sampler broke the epoch contract"
  # Clients 0 and 1 run dry or offline before 1.5 s: the clock waits, and says so.
  wait=$(grep -o '"availability_wait_s": [0-9.e+-]*' "$work/s-$sampler/summary.json" | awk '{print $2}')
  awk -v w="$wait" 'BEGIN { exit !(w > 0.5) }' || fail "$sampler: availability_wait_s is $wait"
  grep -q '"mean_online_clients": [0-9]' "$work/s-$sampler/summary.json" || fail "$sampler: no mean_online_clients"
done

echo "== a trace window file with a mistake: the error names the file and line"
printf 'client,online_from_s,online_until_s\n0,5,4\n' > "$work/bad.csv"
if "$psl" sample "$work/m.toml" --set sampler.type=ugs --set delay.availability_file=bad.csv --out "$work/bad" 2> "$work/bad.txt"; then
  fail "a window that ends before it begins was accepted"
fi
grep -q "bad.csv:2: the window ends" "$work/bad.txt" || { cat "$work/bad.txt"; fail "the error does not name bad.csv:2"; }

echo "== synthetic on/off periods: a resumed run equals an uninterrupted one"
tiny_manifest syn <<'TOML'
[sampler]
type = "ugs"
[delay]
type = "constant"
mean_online_s = 0.3
mean_offline_s = 0.3
[training]
clients = 4
batch_size = 32
epochs = 2
lr = 0.1
threads = 1
TOML
"$psl" run "$work/syn.toml" --out "$work/whole" --quiet > /dev/null
"$psl" run "$work/syn.toml" --out "$work/resumed" --quiet --stop-after-epochs 1 > /dev/null
"$psl" run --resume "$work/resumed" --quiet > /dev/null
diff <(cut -d, -f1,2,3,5,6,12,20,21 "$work/whole/metrics.csv") <(cut -d, -f1,2,3,5,6,12,20,21 "$work/resumed/metrics.csv") ||
  fail "the resumed run's numbers or availability differ"
awk -F, 'NR > 1 && $6 != "" && $20 < 4 { partial = 1 } END { exit !partial }' "$work/whole/metrics.csv" ||
  fail "no step saw an offline client"
echo "availability: all checks passed"
