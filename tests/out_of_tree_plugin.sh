#!/usr/bin/env bash
# Builds docs/examples/round_robin.cpp with the compile line of docs/writing-a-plugin.md
# and runs `psl sample` with it through the manifest's plugin_paths.
set -euo pipefail
src=$1 build=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$src/docs/examples/round_robin.toml" "$work/"
mkdir -p "$work/my-plugins"
g++ -std=c++20 -O2 -shared -fPIC -fvisibility=hidden \
    -I "$src/core/include" -I /usr/include/torch/csrc/api/include \
    "$src/docs/examples/round_robin.cpp" -L "$build" -lpsl_core -Wl,-rpath,"$build" \
    -o "$work/my-plugins/round_robin.so"
"$build/psl" plugins sampler | grep -q round_robin && { echo "round_robin must not be bundled"; exit 1; }
"$build/psl" sample "$work/round_robin.toml" --out "$work/run" --quiet | tee "$work/out.txt"
grep -q "round-robin (round_robin): " "$work/out.txt"
# every sample used exactly once in the epoch
grep -q "\"train_samples\": 2000," "$work/run/summary.json"
