"""Reference RFM scores from DuckDB, for tests/rfm_reference.rs.

Rerun from crates/tessera-models (the outputs are deterministic for a given DuckDB version):

    python3 -m venv /tmp/rfmref && /tmp/rfmref/bin/pip install duckdb
    /tmp/rfmref/bin/python tests/reference/rfm_duckdb.py

The committed fixtures were produced by DuckDB 2.0.0 (the script prints the version it ran).

It writes:
  tests/fixtures/rfm_input.csv       customer_id,recency_days,frequency,monetary_minor
                                     (recency_days empty = the customer never purchased)
  tests/fixtures/rfm_expected_5.csv  customer_id,r_score,f_score,m_score with ntile(5)
  tests/fixtures/rfm_expected_4.csv  the same with ntile(4)

The expected files hold only customers who purchased, ordered by customer_id.
"""

import csv
import random
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures"

QUERY = """
SELECT customer_id,
  ntile({bins}) OVER (ORDER BY recency_days DESC, customer_id) AS r_score,
  ntile({bins}) OVER (ORDER BY frequency, customer_id) AS f_score,
  ntile({bins}) OVER (ORDER BY monetary_minor, customer_id) AS m_score
FROM agg
ORDER BY customer_id
"""


def fixture():
    """~300 customers with heavy ties, ids of varying length and case, some without purchases."""
    rng = random.Random(7)
    ids = set()
    while len(ids) < 300:
        kind = rng.random()
        if kind < 0.80:
            ids.add(f"C{rng.randint(1, 2000)}")      # "C10" < "C9" in byte order
        elif kind < 0.90:
            ids.add(f"c{rng.randint(1, 99)}")        # lower case sorts after every "C..."
        elif kind < 0.96:
            ids.add(f"C{rng.randint(1, 99)}-{rng.choice('abZ')}")
        else:
            ids.add(rng.choice(["Ä", "é1", "Zoë", "Ω", "ß7", "Z", "a"]) + str(rng.randint(0, 9)))
    ids = sorted(ids)  # a set's order varies from run to run; shuffle from a fixed one
    rng.shuffle(ids)
    rows = []
    for cid in ids:
        if rng.random() < 0.1:
            rows.append((cid, None, 0, 0))
            continue
        recency = rng.choice([0, 1, 1, 2, 3, 7, 7, 7, 14, 30, 30, 90, 180, 365, 400])
        frequency = rng.choice([1, 1, 1, 1, 2, 2, 3, 4, 5, 8, 13])
        monetary = rng.choice([499, 999, 999, 1500, 2500, 2500, 2500, 9900, 12000]) * rng.choice([1, 1, 2])
        rows.append((cid, recency, frequency, monetary))
    return rows


def main():
    print("duckdb", duckdb.__version__)
    rows = fixture()
    con = duckdb.connect()

    # DuckDB compares VARCHAR as bytes (binary collation) unless told otherwise: check it here.
    probe = sorted({r[0] for r in rows})
    assert con.execute("SELECT 'C10' < 'C9', 'Z' < 'a', 'C9' < 'c1', 'z' < 'Ä'").fetchone() == (True,) * 4
    got = [r[0] for r in con.execute(
        "SELECT s FROM unnest(?::VARCHAR[]) t(s) ORDER BY s", [list(reversed(probe))]).fetchall()]
    assert got == sorted(probe, key=lambda s: s.encode()), "DuckDB does not sort ids as bytes"

    with open(FIXTURES / "rfm_input.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["customer_id", "recency_days", "frequency", "monetary_minor"])
        for cid, rec, freq, mon in rows:
            w.writerow([cid, "" if rec is None else rec, freq, mon])

    con.execute("CREATE TABLE agg (customer_id VARCHAR PRIMARY KEY, recency_days BIGINT, "
                "frequency UBIGINT, monetary_minor BIGINT)")
    con.executemany("INSERT INTO agg VALUES (?, ?, ?, ?)", [r for r in rows if r[1] is not None])
    purchasers = con.execute("SELECT count(*) FROM agg").fetchone()[0]
    for bins in (5, 4):
        result = con.execute(QUERY.format(bins=bins)).fetchall()
        with open(FIXTURES / f"rfm_expected_{bins}.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["customer_id", "r_score", "f_score", "m_score"])
            w.writerows(result)
        print(f"bins {bins}: {len(result)} scored")
    print(f"{len(rows)} customers, {purchasers} purchased")


if __name__ == "__main__":
    main()
