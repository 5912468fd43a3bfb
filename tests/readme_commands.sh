#!/usr/bin/env bash
# Runs every command of README.md's "Using it" block as a user of a fresh clone would,
# from the clone's top folder, with small synthetic data instead of Fashion-MNIST where a
# command trains (so that the block stays runnable: it cannot drift from the product).
# Usage: readme_commands.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1 build=$2
source "$(dirname "$0")/shell_support.sh"

# A clone's layout: its experiments and tools, and build/ holding what the build made.
ln -s "$src/experiments" "$work/experiments"
ln -s "$src/tools" "$work/tools"
ln -s "$build" "$work/build"
cd "$work"

block=$(awk '/^## Using it/ {on = 1; next} on && /^```sh/ {inside = 1; next} inside && /^```/ {exit} inside' "$src/README.md")
[ -n "$block" ] || fail "README.md has no 'Using it' block"
small=(--set data.type=synthetic --set data.samples=2048 --set data.test_samples=256)
n=0
while IFS= read -r line; do
  command=${line%%#*}  # without the comment
  read -r -a words <<< "$command"
  [ ${#words[@]} -gt 0 ] || continue
  extra=()
  # A command that reads a manifest trains or plans: small data.
  if [ "${words[0]}" = build/psl ] && [[ "${words[1]}" =~ ^(run|sample|sweep|validate)$ ]] && [[ "${words[2]}" == *.toml ]]; then
    extra=("${small[@]}")
  fi
  if [ "${words[0]}" = build/psl ] && [[ "${words[1]}" =~ ^(run|sample|sweep)$ ]]; then extra+=(--quiet); fi
  echo "== ${words[*]} ${extra[*]}"
  "${words[@]}" "${extra[@]}" >/dev/null 2>"$work/stderr" || { cat "$work/stderr"; fail "README command failed: ${words[*]}"; }
  n=$((n + 1))
done <<< "$block"
[ "$n" -ge 8 ] || fail "only $n commands found in README.md's block"
# What the block promises exists.
[ -s severe.html ] || fail "the report wrote no severe.html"
grep -q '"status": "complete"' runs/three/summary.json || fail "the resumed run did not complete"
echo "README commands: all $n ran"
