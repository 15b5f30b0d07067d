# Shared set-up of the benchmark scripts, sourced after BENCH_DIR is set:
# builds the release binary (TESSERA) and a Python venv (PY) with the PyPI packages named in
# BENCH_PIP, both kept between runs.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tessera-target}"
mkdir -p "$BENCH_DIR"
cargo build --release --locked --quiet
TESSERA="$CARGO_TARGET_DIR/release/tessera"
if [ ! -x "$BENCH_DIR/venv/bin/python" ]; then
  python3 -m venv "$BENCH_DIR/venv"
  # shellcheck disable=SC2086
  "$BENCH_DIR/venv/bin/pip" install --quiet $BENCH_PIP
fi
PY="$BENCH_DIR/venv/bin/python"
