#!/usr/bin/env bash
# Feature table versus DuckDB: 20M orders for 1M customers, Parquet and CSV.
#
#   bench/features.sh [ORDERS] [CUSTOMERS] [RUNS]     (defaults: 20000000 1000000 3)
#
# Tessera: `tessera features` (ingest with validation, then the feature table, written to Parquet).
# Floor: `orders-floor` (bench/floor), the least work a checked feature run does: every order id
# put in a filter, every customer looked up, purchases counted and summed; nothing validated,
# settled or written: what those checks cost, done as fast as we know how.
# DuckDB: the reference RFM query (aggregate + three ntile windows), written to Parquet, over the
# same orders; and the same query after the checks Tessera makes on the way in ("duckdb + checks"). Both run here, one after the other, medians of RUNS.
# DuckDB and pyarrow are installed from PyPI into a venv under $BENCH_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
ORDERS="${1:-20000000}"
CUSTOMERS="${2:-1000000}"
RUNS="${3:-3}"
BENCH_DIR="${BENCH_DIR:-$HOME/.cache/tessera-bench/features}"
BENCH_PIP="duckdb pyarrow"
. bench/common.sh
cargo build --release --locked --quiet -p tessera-bench-floor
FLOOR="$CARGO_TARGET_DIR/release/orders-floor"

data="$BENCH_DIR/data-$ORDERS-$CUSTOMERS"
orders_data "$data"

AS_OF=2026-01-01
# The reference RFM query over the orders in $2 (after the CTEs in $3), written to duckdb-$1.parquet.
rfm_query() {
  cat <<SQL
COPY (
WITH $3 agg AS (
  SELECT customer_id, min(date) AS first_purchase, max(date) AS last_purchase,
         count(*) AS frequency, sum(amount) AS monetary_sum, avg(amount) AS monetary_mean
  FROM $2 WHERE date < DATE '$AS_OF' AND amount > 0
  GROUP BY customer_id
), rec AS (SELECT *, (DATE '$AS_OF' - last_purchase) AS recency_days FROM agg)
SELECT *,
  ntile(5) OVER (ORDER BY recency_days DESC, customer_id) AS r_score,
  ntile(5) OVER (ORDER BY frequency, customer_id) AS f_score,
  ntile(5) OVER (ORDER BY round(monetary_sum * 100)::BIGINT, customer_id) AS m_score
FROM rec ORDER BY customer_id
) TO '$data/duckdb-$1.parquet' (FORMAT parquet);
SQL
}
for fmt in csv parquet; do
  cat > "$data/tessera-$fmt.toml" <<TOML
[sources.customers]
path = "customers.csv"
columns = { customer_id = "CustomerID" }
[sources.orders]
path = "orders.$fmt"
columns = { ordered_at = "date" }
TOML
  rfm_query "$fmt" "read_$fmt('$data/orders.$fmt')" "" > "$data/duckdb-$fmt.sql"
  # The same query after the checks `tessera features` makes on the way in: exact copies of a row
  # dropped, order ids with conflicting rows left out, orders of unknown customers left out.
  rfm_query "checked-$fmt" ok "c AS (SELECT DISTINCT CustomerID AS customer_id FROM read_csv('$data/customers.csv')),
d AS (SELECT DISTINCT order_id, customer_id, date, amount FROM read_$fmt('$data/orders.$fmt')),
u AS (SELECT * FROM d QUALIFY count(*) OVER (PARTITION BY order_id) = 1),
ok AS (SELECT * FROM u SEMI JOIN c USING (customer_id))," > "$data/duckdb-checked-$fmt.sql"
done
cat > "$data/duckdb_run.py" <<'PYEOF'
import sys, duckdb
duckdb.connect().execute(open(sys.argv[1]).read())
PYEOF

echo "orders: $ORDERS rows for $CUSTOMERS customers; csv $(du -h "$data/orders.csv" | cut -f1), parquet $(du -h "$data/orders.parquet" | cut -f1); duckdb $("$PY" -c 'import duckdb; print(duckdb.__version__)')"
results="$BENCH_DIR/results.jsonl"
: > "$results"
for fmt in parquet csv; do
  python3 bench/measure.py "$RUNS" "tessera features ($fmt)" -- \
    "$TESSERA" --quiet features --config "$data/tessera-$fmt.toml" --out "$data/out-$fmt" --as-of "$AS_OF" | tee -a "$results"
  python3 bench/measure.py "$RUNS" "floor ($fmt)" -- "$FLOOR" --customers "$data/customers.csv" \
    --orders "$data/orders.$fmt" --as-of "$AS_OF" | tee -a "$results"
  "$FLOOR" --customers "$data/customers.csv" --orders "$data/orders.$fmt" --as-of "$AS_OF" > "$data/floor-$fmt.json"
  python3 bench/measure.py "$RUNS" "duckdb ($fmt)" -- "$PY" "$data/duckdb_run.py" "$data/duckdb-$fmt.sql" | tee -a "$results"
  python3 bench/measure.py "$RUNS" "duckdb + checks ($fmt)" -- "$PY" "$data/duckdb_run.py" "$data/duckdb-checked-$fmt.sql" | tee -a "$results"
done

# Same answers, for each input: recency, frequency and monetary total of every purchasing
# customer, and their r, f and m scores.
"$PY" - "$data" <<'PYEOF'
import json, sys, duckdb
d = sys.argv[1]
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
for fmt in ("parquet", "csv"):
    diff = con.execute(f"""
      SELECT count(*) FILTER (WHERE k.recency_days IS DISTINCT FROM t.recency_days
               OR k.frequency IS DISTINCT FROM t.frequency
               OR round(k.monetary_sum * 100)::BIGINT IS DISTINCT FROM t.monetary_total),
             count(*) FILTER (WHERE k.r_score IS DISTINCT FROM t.r_score
               OR k.f_score IS DISTINCT FROM t.f_score OR k.m_score IS DISTINCT FROM t.m_score),
             count(*)
      FROM read_parquet('{d}/duckdb-{fmt}.parquet') k
      FULL JOIN (SELECT * FROM read_parquet('{d}/out-{fmt}/features.parquet') WHERE frequency > 0) t
      USING (customer_id)""").fetchone()
    print(f"{fmt}: of {diff[2]} purchasing customers, recency/frequency/monetary differ for {diff[0]}, r/f/m scores for {diff[1]}")
    # The floor counts what the reference query does: customers with a purchase, purchases, spend.
    floor = json.load(open(f"{d}/floor-{fmt}.json"))
    ref = con.execute(f"SELECT count(*), sum(frequency), sum(round(monetary_sum * 100)::BIGINT) FROM read_parquet('{d}/duckdb-{fmt}.parquet')").fetchone()
    got = (floor["buyers"], floor["purchases"], floor["spend_minor"])
    print(f"{fmt}: floor buyers/purchases/spend {got}, reference query {tuple(ref)}: {'same' if got == tuple(ref) else 'DIFFERENT'}")
PYEOF
python3 - "$results" <<'PYEOF'
import json, sys
rows = {r["label"]: r for r in map(json.loads, open(sys.argv[1]))}
for fmt in ("parquet", "csv"):
    t = rows[f"tessera features ({fmt})"]
    for label in ("duckdb", "duckdb + checks"):
        k = rows[f"{label} ({fmt})"]
        print(f"{fmt:8} tessera {t['wall_s_median']:7.2f} s {t['peak_rss_mib_median']:7.1f} MiB | {label:15} {k['wall_s_median']:7.2f} s {k['peak_rss_mib_median']:7.1f} MiB | ratio {t['wall_s_median'] / k['wall_s_median']:.2f}x")
    f, k = rows[f"floor ({fmt})"], rows[f"duckdb ({fmt})"]
    print(f"{fmt:8} floor   {f['wall_s_median']:7.2f} s {f['peak_rss_mib_median']:7.1f} MiB | {'duckdb':15} {k['wall_s_median']:7.2f} s {k['peak_rss_mib_median']:7.1f} MiB | ratio {f['wall_s_median'] / k['wall_s_median']:.2f}x")
PYEOF
