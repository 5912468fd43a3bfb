#!/usr/bin/env bash
# Follows docs/writing-a-plugin.md as written: runs the shell blocks of its sections
# "3. Build it" and "4. Load it" from a folder outside the clone, with psl_src set to the
# clone and HOME to a scratch folder: psl is installed into a prefix there, the example
# is built with find_package(psl) against it, and the installed psl runs the
# round_robin sampler over a whole epoch.
set -euo pipefail
src=$1 build=$2
source "$(dirname "$0")/shell_support.sh"

guide=$src/docs/writing-a-plugin.md
block() {  # the first ```sh block after the heading $1
  awk -v h="$1" '$0 == h {on = 1; next} on && /^```sh/ {inside = 1; next} inside && /^```/ {exit} inside' "$guide"
}
build_block=$(block "## 3. Build it")
load_block=$(block "## 4. Load it")
[ -n "$build_block" ] && [ -n "$load_block" ] || fail "the guide's build or load block is missing"

# The guide's psl_src is the user's clone: this source tree (with a build folder elsewhere, that one).
cd "$work"
script=$(printf '%s\n' "$build_block" "$load_block" | sed "s|^psl_src=.*|psl_src=$src|")
if [ "$build" != "$src/build" ]; then script=${script//\$psl_src\/build/$build}; script=${script//\"\$psl_src\/build\"/\"$build\"}; fi
HOME=$work bash -euo pipefail -c "$script" > "$work/out.txt" 2>&1 || { cat "$work/out.txt"; fail "the guide's commands failed"; }
cat "$work/out.txt"
grep -q "round_robin" "$work/out.txt" || fail "psl plugins did not list round_robin"
grep -q "round-robin (round_robin): " "$work/out.txt" || fail "psl sample did not run round_robin"
"$build/psl" plugins sampler | grep -q round_robin && fail "round_robin must not be bundled"
# The protocol example plans with the sampler example.
(cd "$work/my-sampler" && "$work/psl-sdk/bin/psl" sample round_robin.toml --set protocol.type=two_groups \
  --out runs/two-groups) > "$work/two.txt" 2>&1 || { cat "$work/two.txt"; fail "the two_groups protocol did not run"; }
grep -q '"protocol": "two_groups"' "$work/my-sampler/runs/two-groups/summary.json" || fail "two_groups: not in summary.json"
# The prefix holds the SDK: program, library, bundled plugins, headers, CMake package.
for f in bin/psl include/psl/plugin.hpp include/psl/api/sampler.hpp; do [ -e "$work/psl-sdk/$f" ] || fail "no $f installed"; done
ls "$work"/psl-sdk/lib*/cmake/psl/pslConfig.cmake "$work"/psl-sdk/lib*/psl/plugins/psl_sampler_ugs.so >/dev/null \
  || fail "no CMake package or bundled plugins installed"
# every sample used exactly once in the epoch
grep -q "\"train_samples\": 2000," "$work/my-sampler/runs/round-robin-sample/summary.json" \
  || fail "the epoch did not use every sample once"
echo "out-of-tree plugin: the guide works as written"
