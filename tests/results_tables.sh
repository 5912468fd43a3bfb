#!/usr/bin/env bash
# docs/results.md's pasted report tables are what `psl report` gives for the kept runs
# they name (tools/results-tables), and that check fails where a table was edited, was
# left empty or has no end marker.
# Usage: results_tables.sh SOURCE_DIR PSL_BINARY
set -euo pipefail
src=$1 psl=$2
source "$(dirname "$0")/shell_support.sh"
check() { "$src/tools/results-tables" --psl "$psl" "$@"; }

check "$src/docs/results.md" || fail "docs/results.md's tables differ from the kept runs' reports"

page=$work/page.md
printf '# Centralized\n\n<!-- psl report experiments/results/convergence-centralized -->\n<!-- end of report -->\n' > "$page"
if check "$page" 2> "$work/err"; then fail "an empty report block passed"; fi
grep -q "page.md:3: the tables differ" "$work/err" || fail "the error does not name the marker's line: $(cat "$work/err")"
check --write "$page" > /dev/null
check "$page" > /dev/null || fail "a block --write filled in does not pass"
grep -q '^### Settings that vary$' "$page" || fail "--write did not make the report's sections subsections"

# One number of a table changed by hand: the check names the line of its marker.
grep -q '| 90.87 ± 0.23 |' "$page" || fail "the centralized B = 64 row is not in the filled-in block"
sed -i 's/| 90.87 ± 0.23 |/| 90.78 ± 0.23 |/' "$page"
if check "$page" 2> "$work/err"; then fail "an edited table passed"; fi
grep -q "page.md:3: the tables differ" "$work/err" || fail "the error does not name the marker's line: $(cat "$work/err")"

# A kept failed run: the block names it (from psl report's output, not its standard
# error), and a block without that line does not pass.
cp -r "$src/experiments/results/convergence-centralized" "$work/kept"
failed=("$work"/kept/*/)
sed -i 's/"status": "complete"/"status": "failed", "error": "the loss is nan at step 3"/' "${failed[0]}summary.json"
printf '<!-- psl report %s -->\n<!-- end of report -->\n' "$work/kept" > "$work/failed.md"
check --write "$work/failed.md" > /dev/null
[ "$(grep -c 'Left out of the tables of means' "$work/failed.md")" = 1 ] ||
  fail "the failed run is not named once in the block: $(head -n 4 "$work/failed.md")"
grep -q '^psl report:' "$work/failed.md" && fail "psl report's standard error went into the page"
sed -i '/^Left out of the tables/d' "$work/failed.md"
if check "$work/failed.md" 2> "$work/err"; then fail "a block without its left-out line passed"; fi

sed -i '/end of report/d' "$page"
status=0; check "$page" 2> "$work/err" || status=$?
[ $status -eq 2 ] && grep -q "page.md:3: '<!-- end of report -->' missing" "$work/err" || fail "a block without its end was not refused: $(cat "$work/err")"
echo "results tables: ok"
