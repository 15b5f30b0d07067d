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

# Writes DIR/customers.csv, DIR/orders.csv and DIR/orders.parquet for ORDERS orders of CUSTOMERS
# customers (the demo shop, seed 3), unless they are there already: `orders_data DIR`.
orders_data() {
  [ -s "$1/orders.parquet" ] && return 0
  local base_rows copies
  rm -rf "$1" && mkdir -p "$1"
  "$TESSERA" --quiet demo --out "$1/base" --customers "$CUSTOMERS" --seed 3 --no-run
  cp "$1/base/customers.csv" "$1/customers.csv"
  # Orders: the demo's, copied with distinct ids up to ORDERS; the date is the order's calendar day.
  base_rows=$(($(wc -l < "$1/base/orders.csv") - 1))
  copies=$(( (ORDERS + base_rows - 1) / base_rows ))
  awk -F, -v rows="$ORDERS" -v copies="$copies" 'NR == 1 { next } { body[++n] = $0 }
    END {
      print "order_id,customer_id,date,amount"; out = 0
      for (k = 0; k < copies && out < rows; k++)
        for (i = 1; i <= n && out < rows; i++) {
          split(body[i], f, ",")
          print f[1] "-" k "," f[2] "," substr(f[3], 1, 10) "," f[4]; out++
        }
    }' "$1/base/orders.csv" > "$1/orders.csv"
  rm -rf "$1/base"
  "$PY" - "$1" <<'PYEOF'
import sys, pyarrow as pa, pyarrow.csv as pc, pyarrow.parquet as pq
d = sys.argv[1]
types = {"order_id": pa.string(), "customer_id": pa.string(), "date": pa.date32(), "amount": pa.float64()}
t = pc.read_csv(f"{d}/orders.csv", convert_options=pc.ConvertOptions(column_types=types))
pq.write_table(t, f"{d}/orders.parquet", row_group_size=1_000_000, compression="snappy")
PYEOF
}
