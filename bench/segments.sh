#!/usr/bin/env bash
# Segment evaluation versus DuckDB: 50 segments over 1M customers and 20M orders.
#
#   bench/segments.sh [ORDERS] [CUSTOMERS] [RUNS]     (defaults: 20000000 1000000 3)
#
# The segments: 30 over attributes, the feature table and the RFM scores (demographic, geographic,
# firmographic, technographic, value, RFM, recency and tenure, segment references, a tier group)
# and 20 with behavioural leaves over the orders (count, sum, avg, min, max, first, last, with
# filters and relative or absolute windows). Goal: the segments stage under 1 s.
# Tessera: `tessera run` (ingest, the feature table, then the segments stage: the customer row, one
# pass over the clean orders for the behavioural leaves, all segments evaluated in batch,
# assignments.parquet). Evaluation is the stage's prepare, leaves and rules steps
# (`stages.segments.steps` of each run's run.json); the stage also writes the outputs and profiles.
# DuckDB: the 50 queries `tessera sql --dialect duckdb` prints, run in one connection over the same
# run's clean tables and feature table, each result fetched as Arrow. Both run here, one after the
# other, medians of RUNS; the member counts of every segment and tier must agree.
# The data is the features benchmark's (same directory, made by `orders_data` in bench/common.sh).
# DuckDB and pyarrow are installed from PyPI into a venv under $BENCH_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
ORDERS="${1:-20000000}"
CUSTOMERS="${2:-1000000}"
RUNS="${3:-3}"
BENCH_DIR="${BENCH_DIR:-$HOME/.cache/tessera-bench/segments}"
FEATURES_DIR="${FEATURES_DIR:-$HOME/.cache/tessera-bench/features}"
BENCH_PIP="duckdb pyarrow"
. bench/common.sh

data="$FEATURES_DIR/data-$ORDERS-$CUSTOMERS"
orders_data "$data"

AS_OF=2026-01-01
TIERS="platinum gold silver bronze"
work="$BENCH_DIR/run-$ORDERS-$CUSTOMERS"
config="$work/tessera.toml"
out="$work/out"
mkdir -p "$work"
# The demo's customer mapping (crates/tessera-demo/src/toml.rs); the orders have no category or
# channel, so the behavioural filters use amount, is_refund and the windows.
cat > "$config" <<TOML
[project]
name = "segments benchmark"
as_of = "$AS_OF"
time_zone = "Europe/Berlin"
money_decimals = 2

[sources.customers]
path = '$data/customers.csv'
columns = { customer_id = "CustomerID", signed_up_at = { column = "SignupDate", format = "%d/%m/%Y" } }

[sources.customers.attributes]
age = { column = "Age", type = "int", min = 18, max = 120 }
gender = { column = "Gender", type = "string", values = ["f", "m", "x"] }
country = { column = "Country", type = "string" }
city = { column = "City", type = "string" }
company_size = { column = "CompanySize", type = "string", values = ["1-10", "11-50", "51-200", "201-1000", "1000+"] }
industry = { column = "Industry", type = "string" }
device = { column = "Device", type = "string", values = ["desktop", "mobile", "tablet"] }
os = { column = "OS", type = "string" }
browser = { column = "Browser", type = "string" }
email_opt_in = { column = "EmailOptIn", type = "bool" }
sms_opt_in = { column = "SmsOptIn", type = "bool" }
loyalty_member = { column = "LoyaltyMember", type = "bool" }

[sources.orders]
path = '$data/orders.parquet'
columns = { ordered_at = "date" }

[groups.tier]
segments = [$(printf '"%s", ' $TIERS | sed 's/, $//')]
description = "loyalty tier by spend in the last year, first match wins"
TOML
cat >> "$config" <<'TOML'

# 30 segments over attributes, features and RFM scores.
[segments.young_adults]
rule = 'age between 18 and 24'
tags = ["demographic"]
[segments.seniors_reachable]
rule = 'age >= 65 and (email_opt_in or sms_opt_in)'
tags = ["demographic"]
[segments.women_25_44]
rule = 'gender = "f" and age between 25 and 44'
tags = ["demographic"]
[segments.eurozone]
rule = 'country in ["DE", "FR", "NL", "ES", "IT"]'
tags = ["geographic"]
[segments.german_big_cities]
rule = 'country = "DE" and city in ["Berlin", "Hamburg", "München", "Köln", "Frankfurt am Main"]'
tags = ["geographic"]
[segments.outside_eurozone]
rule = 'country not in ["DE", "FR", "NL", "ES", "IT"]'
tags = ["geographic"]
[segments.burg_and_holm]
rule = 'city contains "burg" or city ends_with "holm"'
tags = ["geographic"]
[segments.enterprise_accounts]
rule = 'company_size in ["201-1000", "1000+"]'
tags = ["firmographic"]
[segments.smb_tech]
rule = 'company_size in ["1-10", "11-50"] and industry = "technology" and spend_365d > 0'
tags = ["firmographic"]
[segments.b2b_not_retail]
rule = 'company_size is not null and industry not in ["retail", "hospitality"]'
tags = ["firmographic"]
[segments.ios_mobile]
rule = 'os = "ios" and device = "mobile"'
tags = ["technographic"]
[segments.desktop_not_chrome]
rule = 'device = "desktop" and browser != "chrome"'
tags = ["technographic"]
[segments.high_value]
rule = 'monetary_total >= 2500.00 and refunds_count <= 1'
tags = ["value"]
[segments.mid_spend_90d]
rule = 'spend_90d between 100.00 and 500.00'
tags = ["value"]
[segments.big_average_order]
rule = 'monetary_avg >= 150.00'
tags = ["value"]
[segments.rfm_best]
rule = 'rfm_segment in ["Champions", "Loyal"]'
tags = ["rfm"]
[segments.rfm_slipping_big_spenders]
rule = 'rfm_segment in ["At Risk", "Cannot Lose Them"] or (r_score <= 2 and m_score = 5)'
tags = ["rfm"]
[segments.rfm_most_recent]
rule = 'rfm_code matches "^5[45]"'
tags = ["rfm"]
[segments.win_back]
rule = 'orders_365d >= 4 and orders_90d = 0'
description = "bought regularly last year, nothing in the last 90 days"
tags = ["churn"]
[segments.at_risk_valuable]
rule = 'monetary_total >= 500.00 and days_since(last_order_at) between 120 days and 365 days and email_opt_in'
tags = ["churn"]
[segments.recent_signups]
rule = 'days_since(signed_up_at) <= 180'
tags = ["lifecycle"]
[segments.veterans]
rule = 'tenure_days >= 104 weeks and signed_up_at < 2024-01-01'
tags = ["lifecycle"]
[segments.frequent_buyers]
rule = 'frequency >= 20 and avg_days_between_orders < 30'
tags = ["lifecycle"]
[segments.repeat_regulars]
rule = 'x >= 10 and t_x >= 26 and T > 52'
tags = ["lifecycle"]
[segments.refunders]
rule = 'refunds_count >= 2 or refunds_amount > 100.00'
tags = ["value"]
[segments.best_not_members]
rule = 'in segment "rfm_best" and not loyalty_member and email_opt_in'
description = "top RFM customers to invite to the loyalty programme"
tags = ["rfm", "loyalty"]
[segments.platinum]
rule = 'spend_365d >= 2000.00 and loyalty_member'
tags = ["tier"]
[segments.gold]
rule = 'spend_365d >= 1000.00'
tags = ["tier"]
[segments.silver]
rule = 'spend_365d >= 250.00'
tags = ["tier"]
[segments.bronze]
rule = 'orders_365d >= 1'
tags = ["tier"]

# 20 segments with behavioural leaves over the orders.
[segments.active_30d]
rule = 'count(orders where amount > 0 last 30 days) > 0'
tags = ["behavioural"]
[segments.lapsed_90d]
rule = 'count(orders where amount > 0 last 90 days) = 0 and frequency > 0'
tags = ["behavioural", "churn"]
[segments.spent_1000_365d]
rule = 'sum(orders.amount where amount > 0 last 365 days) >= 1000.00'
tags = ["behavioural", "value"]
[segments.big_baskets]
rule = 'avg(orders.amount where amount > 0 last 365 days) >= 150.00'
tags = ["behavioural", "value"]
[segments.big_ticket]
rule = 'max(orders.amount where amount > 50.00) >= 500.00'
tags = ["behavioural", "value"]
[segments.summer_buyers]
rule = 'count(orders where amount > 0 between 2025-06-01 and 2025-08-31) >= 2'
tags = ["behavioural", "seasonal"]
[segments.summer_big_spenders]
rule = 'sum(orders.amount where amount > 50.00 between 2025-06-01 and 2025-08-31) > 200.00'
tags = ["behavioural", "seasonal"]
[segments.first_bought_recently]
rule = 'first(orders where amount > 0) >= 2025-06-01'
tags = ["behavioural", "lifecycle"]
[segments.quiet_big_buyers]
rule = 'last(orders where amount > 50.00 last 365 days) < 2025-10-01'
tags = ["behavioural", "churn"]
[segments.recent_refunders]
rule = 'count(orders where is_refund, last 90 days) >= 1'
tags = ["behavioural"]
[segments.big_refunds]
rule = 'min(orders.amount last 365 days) <= -50.00'
tags = ["behavioural"]
[segments.many_big_orders]
rule = 'count(orders where amount > 50.00 last 365 days) >= 10'
tags = ["behavioural", "value"]
[segments.cooling_down]
rule = '''
count(orders where amount > 0 last 365 days) >= 4
and count(orders where amount > 0 last 90 days) = 0   # bought last year, did not in the last 90 days
'''
tags = ["behavioural", "churn"]
[segments.reactivated]
rule = 'count(orders where amount > 0 last 30 days) > 0 and count(orders where amount > 0 between 2025-06-01 and 2025-08-31) = 0'
tags = ["behavioural", "lifecycle"]
[segments.small_orders_only]
rule = 'max(orders.amount where amount > 0 last 365 days) < 30.00'
tags = ["behavioural", "value"]
[segments.rising_spend]
rule = 'sum(orders.amount where amount > 0 last 90 days) > 300.00 and spend_365d < 1000.00'
tags = ["behavioural", "value"]
[segments.eurozone_recent_big]
rule = 'in segment "eurozone" and max(orders.amount last 30 days) > 100.00'
tags = ["behavioural", "geographic"]
[segments.holiday_2024_reachable]
rule = 'count(orders where amount > 0 between 2024-11-25 and 2024-12-31) > 0 and email_opt_in'
tags = ["behavioural", "seasonal"]
[segments.net_refunded_90d]
rule = 'count(orders last 90 days) > 0 and sum(orders.amount last 90 days) <= 0'
tags = ["behavioural"]
[segments.weekly_buyers]
rule = 'count(orders where amount >= 20.00 and not is_refund last 4 weeks) >= 4'
tags = ["behavioural"]
TOML
segments=$(sed -n 's/^\[segments\.\([a-z0-9_]*\)\]$/\1/p' "$config")

cat > "$work/duckdb_segments.py" <<'PYEOF'
# The queries in SQL_DIR over the run in OUT, in one connection; appends the member counts and the
# time of the queries (results fetched as Arrow) to LOG.
import glob, json, os, sys, time, duckdb
out, sql_dir, log = sys.argv[1:4]
con = duckdb.connect()
con.execute(f"""CREATE VIEW customers AS SELECT * FROM read_parquet('{out}/clean/customers.parquet') AS c
  JOIN read_parquet('{out}/features.parquet') AS f USING (customer_id)""")
con.execute(f"CREATE VIEW orders AS SELECT * FROM read_parquet('{out}/clean/orders.parquet')")
members, seconds = {}, {}
start = time.perf_counter()
for path in sorted(glob.glob(f"{sql_dir}/*.sql")):
    name = os.path.basename(path)[:-4]
    t = time.perf_counter()
    members[name] = con.sql(open(path).read()).to_arrow_table().num_rows
    seconds[name] = time.perf_counter() - t
total = time.perf_counter() - start
with open(log, "a") as f:
    f.write(json.dumps({"queries_s": total, "members": members, "seconds": seconds}) + "\n")
PYEOF

behavioural=$(awk '/^\[/ { s = $0 } /^\[segments\./ { n++ } /\(orders/ && !(s in b) { b[s]; k++ } END { print k " of " n }' "$config")
echo "orders: $ORDERS rows for $CUSTOMERS customers; segments: $behavioural with behavioural leaves; duckdb $("$PY" -c 'import duckdb; print(duckdb.__version__)')"
results="$BENCH_DIR/results.jsonl"
: > "$results"
rm -f "$work"/run-*.json "$work/duckdb-log.jsonl"
# Tessera one run at a time, to keep each run's run.json (the segments stage's time).
for i in $(seq "$RUNS"); do
  python3 bench/measure.py 1 "tessera run" -- \
    "$TESSERA" --quiet run --config "$config" --out "$out" --as-of "$AS_OF" | tee -a "$results"
  cp "$out/run.json" "$work/run-$i.json"
done

# DuckDB: every segment's query, compiled once from the last run.
rm -rf "$work/sql" && mkdir -p "$work/sql"
for s in $segments; do
  "$TESSERA" --quiet sql --config "$config" --run "$out" --segment "$s" --dialect duckdb > "$work/sql/$s.sql"
done
python3 bench/measure.py "$RUNS" "duckdb (50 queries)" -- \
  "$PY" "$work/duckdb_segments.py" "$out" "$work/sql" "$work/duckdb-log.jsonl" | tee -a "$results"

# Same answers: the members of every segment, and the sizes of the tiers (first match wins).
# shellcheck disable=SC2086
"$PY" - "$work" "$TIERS" $segments <<'PYEOF'
import json, sys, duckdb
work, tiers, names = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
run = json.load(open(f"{work}/out/run.json"))
duck = json.loads(open(f"{work}/duckdb-log.jsonl").readlines()[-1])["members"]
tess = {n: s["members"] for n, s in run.get("segments", {}).items()}
bad = 0
for n in sorted(set(names) | set(tess) | set(duck)):
    t, d = tess.get(n), duck.get(n)
    if t != d:
        bad += 1
        print(f"MISMATCH segment {n}: tessera {t}, duckdb {d}")
con = duckdb.connect()
con.execute(f"""CREATE VIEW customers AS SELECT * FROM read_parquet('{work}/out/clean/customers.parquet') AS c
  JOIN read_parquet('{work}/out/features.parquet') AS f USING (customer_id)""")
con.execute(f"CREATE VIEW orders AS SELECT * FROM read_parquet('{work}/out/clean/orders.parquet')")
con.execute("CREATE TEMP TABLE placed (customer_id VARCHAR)")
group = run.get("groups", {}).get("tier", {})
for tier in tiers:
    query = open(f"{work}/sql/{tier}.sql").read().strip().rstrip(";")
    con.execute(f"CREATE TEMP TABLE t AS {query}")
    d = con.execute("SELECT count(*) FROM t ANTI JOIN placed USING (customer_id)").fetchone()[0]
    con.execute("INSERT INTO placed SELECT customer_id FROM t")
    con.execute("DROP TABLE t")
    t = group.get("sizes", {}).get(tier)
    if t != d:
        bad += 1
        print(f"MISMATCH group tier, {tier}: tessera {t}, duckdb {d}")
sizes = ", ".join(f"{tier} {group.get('sizes', {}).get(tier)}" for tier in tiers)
print(f"members: {len(names)} segments, {sum(tess.values())} memberships; tiers {sizes}, none {group.get('none')}")
print(f"segments or tiers whose members differ between Tessera and DuckDB: {bad}")
PYEOF
python3 - "$results" "$work" <<'PYEOF'
import glob, json, statistics, sys
results, work = sys.argv[1:3]
rows = [json.loads(l) for l in open(results)]
runs = [r for r in rows if r["label"] == "tessera run"]
k = next(r for r in rows if r["label"] == "duckdb (50 queries)")
stages = [json.load(open(p))["stages"] for p in sorted(glob.glob(f"{work}/run-*.json"))]
med = lambda xs: statistics.median(xs)
st = {s: med([x[s]["seconds"] for x in stages]) for s in ("ingest", "features", "segments")}
# Evaluation after features: the customer row, the behavioural leaves and the rules. The stage
# also writes assignments.parquet, the exports and the profiles, which are not evaluation.
steps = lambda x: x["segments"].get("steps", {})
ev = med([sum(steps(x).get(k, 0) for k in ("prepare", "leaves", "rules")) for x in stages])
parts = {k: med([steps(x).get(k, 0) for x in stages]) for k in ("prepare", "leaves", "rules", "write", "profiles")}
log = [json.loads(l) for l in open(f"{work}/duckdb-log.jsonl")]
queries = med([l["queries_s"] for l in log])
slow = sorted(log[-1]["seconds"].items(), key=lambda kv: -kv[1])[:3]
wall, rss = med([r["wall_s_median"] for r in runs]), med([r["peak_rss_mib_median"] for r in runs])
print(f"tessera run      {wall:7.2f} s {rss:7.1f} MiB | ingest {st['ingest']:.2f} s, features {st['features']:.2f} s, segments {st['segments']:.3f} s")
print(f"duckdb           {k['wall_s_median']:7.2f} s {k['peak_rss_mib_median']:7.1f} MiB | 50 queries {queries:.3f} s; slowest " + ", ".join(f"{n} {s:.2f} s" for n, s in slow))
print("segments stage   " + ", ".join(f"{k} {v:.3f} s" for k, v in parts.items()))
print(f"evaluation       {ev:.3f} s (prepare + leaves + rules; goal < 1 s: {'met' if ev < 1 else 'NOT met'}) | duckdb's 50 queries {queries:.3f} s | ratio {ev / queries:.3f}x")
PYEOF
