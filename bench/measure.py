#!/usr/bin/env python3
"""Runs a command several times; prints the median wall time and peak resident memory as JSON.

Usage: measure.py RUNS LABEL -- COMMAND...
Peak memory is the child's maximum resident set size (getrusage), the same measure as
`/usr/bin/time -v`'s "Maximum resident set size".
"""
import json
import os
import statistics
import subprocess
import sys
import time


def run_once(cmd):
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.execvp(cmd[0], cmd)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"command failed ({status}): {' '.join(cmd)}")
    return wall, usage.ru_maxrss / 1024.0  # KiB -> MiB


def main():
    runs, label = int(sys.argv[1]), sys.argv[2]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    walls, mems = [], []
    for _ in range(runs):
        wall, mem = run_once(cmd)
        walls.append(wall)
        mems.append(mem)
    print(json.dumps({
        "label": label,
        "runs": runs,
        "wall_s_median": round(statistics.median(walls), 3),
        "wall_s_all": [round(w, 3) for w in walls],
        "peak_rss_mib_median": round(statistics.median(mems), 1),
    }))


if __name__ == "__main__":
    main()
