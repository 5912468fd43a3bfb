#!/usr/bin/env bash
# The Debian package: cpack -G DEB builds it from the build folder; its control data
# names the Debian runtime packages it needs; its file list holds the program, the
# library, the bundled plugins and the SDK; and unpacked into a scratch root (as dpkg
# would install it, without touching this machine's /usr) its psl runs an experiment
# with the plugins found beside itself.
# Usage: debian_package.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1 build=$2
source "$(dirname "$0")/shell_support.sh"
command -v dpkg-deb >/dev/null || { echo "SKIP: no dpkg-deb"; exit 77; }

(cd "$work" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/pkg" > "$work/cpack.txt" 2>&1) \
  || { cat "$work/cpack.txt"; fail "cpack failed"; }
deb=$(ls "$work"/pkg/psl_*.deb)
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for needed in libtorch libboost-filesystem libfmt libssl libjs-dygraphs; do
  grep -q "$needed" <<< "$depends" || fail "the package does not depend on $needed"
done
files=$(dpkg-deb -c "$deb")
for f in ./usr/bin/psl ./usr/lib/libpsl_core.so ./usr/lib/psl/plugins/psl_sampler_ugs.so \
         ./usr/include/psl/plugin.hpp ./usr/lib/cmake/psl/pslConfig.cmake; do
  grep -q " $f" <<< "$files" || fail "the package lacks $f"
done

dpkg-deb -x "$deb" "$work/root"
psl=$work/root/usr/bin/psl
"$psl" plugins sampler | grep -q "psl_sampler_ugs.so" || fail "the unpacked psl does not find its bundled plugins"
"$psl" run "$src/experiments/quickstart.toml" --set data.type=synthetic --set data.samples=512 \
  --set data.test_samples=64 --out "$work/run" --quiet > /dev/null || fail "the unpacked psl could not run"
grep -q '"status": "complete"' "$work/run/summary.json" || fail "the run did not complete"
echo "debian package: $(basename "$deb"), dependencies and files in place, runs from an unpacked root"
