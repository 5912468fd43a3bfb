# Sourced by the shell tests: a scratch folder, background processes killed and the
# folder removed on any exit, and `fail`.
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# Waits until FILE exists and is not empty (10 s at most).
wait_for_file() { for _ in $(seq 100); do [ -s "$1" ] && break; sleep 0.1; done; }
