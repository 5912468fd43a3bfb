#!/usr/bin/env bash
# The report page as a reader opens it: a small sweep, psl report, then headless Chromium
# loads the page; every chart must be drawn and no script may fail. Skips (77) where
# Chromium is not installed (tools/install-deps installs it).
# Usage: report_in_chromium.sh PSL_BINARY
set -euo pipefail
psl=$1
source "$(dirname "$0")/shell_support.sh"
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "SKIP: no chromium here (Debian package chromium)"; exit 77; }

tiny_manifest page 600 <<'TOML'
[sampler]
type = "ugs"
[training]
clients = 4
batch_size = 32
epochs = 2
eval_every_steps = 5
[sweep]
sampler.type = ["fls", "ugs"]
seed = [1, 2]
TOML
"$psl" sweep "$work/page.toml" --out "$work/sweep" --quiet >/dev/null
"$psl" report "$work/sweep" -o "$work/page.html" --target 40 --csv "$work/csv" --figures "$work/figures" 2>/dev/null
grep -q "const PSL_FIGURES" "$work/page.html" || fail "the page is not interactive (is libjs-dygraphs installed?)"

load() {
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --user-data-dir="$work/profile" \
    --enable-logging=stderr --v=0 "$@" "file://$work/page.html"
}
load --dump-dom > "$work/dom.html" 2> "$work/console.txt" || fail "chromium could not load the page"
if grep -E "CONSOLE.*(Uncaught|Error)" "$work/console.txt"; then fail "the page's scripts failed"; fi
grep -q 'data-charts-drawn="6"' "$work/dom.html" || fail "not every chart was drawn"
# Each chart drew its canvas and a checkbox per setting.
[ "$(grep -o '<canvas' "$work/dom.html" | wc -l)" -ge 6 ] || fail "charts without canvases"
[ "$(grep -o 'type="checkbox"' "$work/dom.html" | wc -l)" -ge 12 ] || fail "missing toggles"
# The CSV and SVG exports are there and whole.
for f in settings groups runs paper curves; do [ -s "$work/csv/$f.csv" ] || fail "no $f.csv"; done
for f in accuracy-steps accuracy-samples accuracy-time loss-steps deviation-steps deviation-time labels; do
  grep -q '</svg>' "$work/figures/$f.svg" || fail "no whole $f.svg"
done
# tools/keep-results keeps what a report needs, without checkpoints, and the report reads it.
"$(dirname "$0")/../tools/keep-results" "$work/sweep" "$work/kept" > /dev/null
[ "$(ls -d "$work"/kept/*/ | wc -l)" = 4 ] || fail "keep-results did not keep the 4 runs"
ls "$work"/kept/*/checkpoint.bin 2>/dev/null && fail "keep-results kept checkpoints"
"$psl" report "$work/kept" --format md | grep -q "| ugs |" || fail "psl report cannot read the kept runs"
# A failed run is a result and is kept (the report names it and its error); one still
# running is not.
cp -r "$work/sweep" "$work/mixed"
runs=("$work"/mixed/*/)
sed -i 's/"status": "complete"/"status": "failed", "error": "the loss is nan at step 3"/' "${runs[0]}summary.json"
sed -i 's/"status": "complete"/"status": "running"/' "${runs[1]}summary.json"
"$(dirname "$0")/../tools/keep-results" "$work/mixed" "$work/kept-mixed" > /dev/null
[ "$(ls -d "$work"/kept-mixed/*/ | wc -l)" = 3 ] || fail "keep-results did not keep the 2 complete and the failed run"
[ -d "$work/kept-mixed/$(basename "${runs[1]}")" ] && fail "keep-results kept a run still running"
"$psl" report "$work/kept-mixed" --format md 2>/dev/null | grep -q "(failed, .*: the loss is nan at step 3)" ||
  fail "the report does not name the kept failed run and its error"
echo "report page: loads in Chromium, 6 charts drawn, no script errors; kept runs report alike"
