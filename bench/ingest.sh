#!/usr/bin/env bash
# Ingest throughput and peak memory for 20M order rows, as CSV and as Parquet.
#
#   bench/ingest.sh [ROWS] [RUNS]      (defaults: 20000000 rows, 3 runs)
#
# Orders come from the demo generator (realistic ids, local timestamps, decimal amounts,
# categories), replicated with distinct order ids up to ROWS; the Parquet copy is written by
# pyarrow (installed into a venv under $BENCH_DIR) with the types a warehouse export has:
# timestamps, float64 amounts, strings. Results go to $BENCH_DIR/results.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${1:-20000000}"
RUNS="${2:-3}"
BENCH_DIR="${BENCH_DIR:-$HOME/.cache/tessera-bench/ingest}"
BENCH_PIP="pyarrow"
. bench/common.sh

data="$BENCH_DIR/data-$ROWS"
if [ ! -s "$data/orders.parquet" ]; then
  rm -rf "$data" && mkdir -p "$data"
  # ~5 orders per customer: this many customers give a base of about ROWS/10 orders.
  "$TESSERA" --quiet demo --out "$data/base" --customers $((ROWS / 50)) --seed 1 --no-run
  cp "$data/base/customers.csv" "$data/customers.csv"
  base_rows=$(($(wc -l < "$data/base/orders.csv") - 1))
  copies=$(( (ROWS + base_rows - 1) / base_rows ))
  awk -v rows="$ROWS" -v copies="$copies" 'NR == 1 { header = $0; next } { body[++n] = $0 }
    END {
      print header; out = 0
      for (k = 0; k < copies && out < rows; k++)
        for (i = 1; i <= n && out < rows; i++) {
          line = body[i]; p = index(line, ",")
          print substr(line, 1, p - 1) "-" k substr(line, p); out++
        }
    }' "$data/base/orders.csv" > "$data/orders.csv"
  rm -rf "$data/base"
  "$PY" - "$data" <<'PYEOF'
import sys, pyarrow as pa, pyarrow.csv as pc, pyarrow.parquet as pq
d = sys.argv[1]
opts = pc.ConvertOptions(column_types={"OrderID": pa.string(), "CustomerID": pa.string(),
    "OrderDate": pa.timestamp("s"), "Total": pa.float64(), "Category": pa.string(),
    "Channel": pa.string(), "Items": pa.int64()})
table = pc.read_csv(f"{d}/orders.csv", convert_options=opts)
pq.write_table(table, f"{d}/orders.parquet", row_group_size=1_000_000, compression="snappy")
PYEOF
fi

for fmt in csv parquet; do
  cat > "$data/tessera-$fmt.toml" <<TOML
[project]
time_zone = "Europe/Berlin"
[sources.customers]
path = "customers.csv"
columns = { customer_id = "CustomerID", signed_up_at = { column = "SignupDate", format = "%d/%m/%Y" } }
[sources.orders]
path = "orders.$fmt"
columns = { order_id = "OrderID", customer_id = "CustomerID", ordered_at = "OrderDate", amount = "Total", category = "Category", channel = "Channel" }
attributes.items = { column = "Items", type = "int" }
TOML
done

rows=$(($(wc -l < "$data/orders.csv") - 1))
echo "orders: $rows rows; csv $(du -h "$data/orders.csv" | cut -f1), parquet $(du -h "$data/orders.parquet" | cut -f1)"
: > "$BENCH_DIR/results.jsonl"
for fmt in csv parquet; do
  python3 bench/measure.py "$RUNS" "tessera run ($fmt)" -- \
    "$TESSERA" --quiet run --config "$data/tessera-$fmt.toml" --out "$data/out-$fmt" | tee -a "$BENCH_DIR/results.jsonl"
  jq -r '.sources.orders | "  orders: read \(.read), accepted \(.accepted), rejected \(.rejected), duplicates \(.duplicates)"' "$data/out-$fmt/run.json" 2>/dev/null || true
done
python3 - "$BENCH_DIR/results.jsonl" "$rows" <<'PYEOF'
import json, sys
rows = int(sys.argv[2])
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(f"{r['label']:<22} median {r['wall_s_median']:>7.2f} s  {rows / r['wall_s_median'] / 1e6:>6.2f} M order rows/s  peak {r['peak_rss_mib_median']:>7.1f} MiB")
PYEOF
