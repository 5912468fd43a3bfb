# Sourced by the shell tests: a scratch folder, background processes killed and the
# folder removed on any exit, and `fail`.
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# Waits until FILE exists and is not empty (10 s at most).
wait_for_file() { for _ in $(seq 100); do [ -s "$1" ] && break; sleep 0.1; done; }

# Writes $work/NAME.toml: a tiny synthetic experiment (SAMPLES training samples, default
# 400, of 4 classes of 1x6x6 values; an MLP; 4 clients, 2 classes each; batches of 32),
# followed by what the test adds on standard input ([training] extras, [sweep], ...).
tiny_manifest() {
  {
    cat <<TOML
name = "$1"
[data]
type = "synthetic"
samples = ${2:-400}
test_samples = 100
classes = 4
shape = [1, 6, 6]
[partitioner]
type = "extended_dirichlet"
classes_per_client = 2
[model]
type = "mlp"
hidden = [16]
TOML
    cat
  } > "$work/$1.toml"
}
