#!/usr/bin/env python3
"""Checks pmerge's --export-json/-csv/-markdown files against hyperfine's.

Usage: check_exports.py JSON CSV MARKDOWN STATS [KEY=VALUE]...

JSON, CSV and MARKDOWN are the files one `pmerge --bench --stats=json
--export-json=JSON --export-csv=CSV --export-markdown=MARKDOWN` wrote, and
STATS its --stats=json report.  KEY=VALUE: runs=N, locks=A,B and jobs=N,M
(the strategies and job counts given; the rows are every strategy at the
first job count, then at the next).

The reference is hyperfine itself: it is run on a trivial command with the
parameters "lock" and "jobs", and its exports' keys, CSV header and
Markdown header must be pmerge's.  Then pmerge's figures are checked
against each other and against the --stats=json report of the same runs.
Exit status: 0 when all is well, 1 with the problems on standard error, 77
when hyperfine is not installed.
"""

import csv
import json
import math
import shutil
import subprocess
import sys
import tempfile

SKIP = 77


def hyperfine_reference(runs):
    """hyperfine's own exports for -L lock ... -L jobs ..., as text."""
    with tempfile.TemporaryDirectory() as d:
        paths = {k: f"{d}/ref.{k}" for k in ("json", "csv", "md")}
        subprocess.run(
            ["hyperfine", "-N", "--style", "none", "--runs", str(runs),
             "-L", "lock", "mutex,ticket", "-L", "jobs", "1,2",
             "--export-json", paths["json"], "--export-csv", paths["csv"],
             "--export-markdown", paths["md"], "true {lock} {jobs}"],
            check=True, capture_output=True)
        return {k: open(p, encoding="utf-8").read() for k, p in paths.items()}


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and \
        math.isfinite(v)


def near(a, b):
    return abs(a - b) <= 1e-6 + 1e-6 * abs(b)


def check(ours, ref, stats, exp):
    errs = []
    runs = int(exp["runs"])
    want = [(lk, j) for j in exp["jobs"].split(",")
            for lk in exp["locks"].split(",")]

    # -- JSON: the same keys as hyperfine's, at every level.
    rj, oj = json.loads(ref["json"]), json.loads(ours["json"])
    if set(oj) != set(rj):
        errs.append(f"json: top-level keys {sorted(oj)}, hyperfine has "
                    f"{sorted(rj)}")
        return errs
    rkeys = set(rj["results"][0])
    pkeys = set(rj["results"][0]["parameters"])
    res = oj["results"]
    if [(r.get("parameters", {}).get("lock"),
         r.get("parameters", {}).get("jobs")) for r in res] != want:
        errs.append(f"json: rows {[r.get('parameters') for r in res]}, "
                    f"expected {want}")
        return errs
    for i, r in enumerate(res):
        where = f"json results[{i}]"
        if set(r) != rkeys:
            errs.append(f"{where}: keys {sorted(r)}, hyperfine has "
                        f"{sorted(rkeys)}")
            continue
        if set(r["parameters"]) != pkeys:
            errs.append(f"{where}.parameters: keys {sorted(r['parameters'])}"
                        f", hyperfine has {sorted(pkeys)}")
        # hyperfine writes parameter values as strings.
        if not all(isinstance(v, str) for v in r["parameters"].values()):
            errs.append(f"{where}.parameters: values are not strings")
        if not isinstance(r["command"], str) or \
                f"-l {r['parameters']['lock']}" not in r["command"] or \
                f"-j {r['parameters']['jobs']}" not in r["command"]:
            errs.append(f"{where}: command {r['command']!r} does not run "
                        f"its parameters")
        t = r["times"]
        if len(t) != runs or not all(is_num(x) and x > 0 for x in t):
            errs.append(f"{where}.times: {t!r}, expected {runs} times")
            continue
        if r["exit_codes"] != [0] * runs:
            errs.append(f"{where}.exit_codes: {r['exit_codes']!r}")
        s = sorted(t)
        if not near(r["mean"], sum(t) / runs) or \
                not near(r["min"], s[0]) or not near(r["max"], s[-1]) or \
                not near(r["median"], (s[(runs - 1) // 2] + s[runs // 2]) / 2):
            errs.append(f"{where}: mean/min/max/median disagree with times")
        if runs == 1:
            if r["stddev"] is not None:
                errs.append(f"{where}.stddev: {r['stddev']!r} for one run; "
                            f"hyperfine writes null")
        elif not is_num(r["stddev"]) or not near(
                r["stddev"], math.sqrt(sum((x - r["mean"]) ** 2 for x in t)
                                       / (runs - 1))):
            errs.append(f"{where}.stddev: {r['stddev']!r} is not the "
                        f"sample deviation of the times")
        for k in ("user", "system"):
            if not is_num(r[k]) or r[k] < 0:
                errs.append(f"{where}.{k}: {r[k]!r}")
        # The same runs as the --stats=json report's.
        st = stats["results"][i]
        if (st["lock"], str(st["jobs"])) != want[i] or \
                not all(near(a, b) for a, b in zip(st["times_s"], t)):
            errs.append(f"{where}: not the runs the report shows ({st})")
    # The runs took CPU: user and system cannot all be zero.
    if res and all(r.get("user", 0) == 0 and r.get("system", 0) == 0
                   for r in res):
        errs.append("json: user and system are zero everywhere")

    # -- CSV: hyperfine's columns; the rows are the JSON's.
    rhead = next(csv.reader(ref["csv"].splitlines()))
    rows = list(csv.reader(ours["csv"].splitlines()))
    if set(rows[0]) != set(rhead):
        errs.append(f"csv: header {rows[0]}, hyperfine has {rhead}")
    if rows[0] != ["command", "mean", "stddev", "median", "user", "system",
                   "min", "max", "parameter_lock", "parameter_jobs"]:
        errs.append(f"csv: header {rows[0]}")
    if len(rows) != 1 + len(res):
        errs.append(f"csv: {len(rows) - 1} rows, json has {len(res)}")
    else:
        for i, (row, r) in enumerate(zip(rows[1:], res)):
            d = dict(zip(rows[0], row))
            if d.get("command") != r["command"] or \
                    d.get("parameter_lock") != r["parameters"]["lock"] or \
                    d.get("parameter_jobs") != r["parameters"]["jobs"]:
                errs.append(f"csv row {i}: {row} is not json row {i}")
                continue
            for k in ("mean", "median", "user", "system", "min", "max"):
                if not near(float(d[k]), r[k]):
                    errs.append(f"csv row {i}: {k} {d[k]} but json "
                                f"{r[k]}")
            sd = r["stddev"] if r["stddev"] is not None else 0
            if not near(float(d["stddev"]), sd):
                errs.append(f"csv row {i}: stddev {d['stddev']}")

    # -- Markdown: hyperfine's header and alignment; one row per result.
    rlines = ref["md"].splitlines()
    lines = ours["md"].splitlines()
    if lines[:2] != rlines[:2]:
        errs.append(f"markdown: head {lines[:2]}, hyperfine has "
                    f"{rlines[:2]}")
    if lines[0] != "| Command | Mean [ms] | Min [ms] | Max [ms] | Relative |":
        errs.append(f"markdown: header {lines[0]!r}")
    body = lines[2:]
    if len(body) != len(res):
        errs.append(f"markdown: {len(body)} rows, json has {len(res)}")
        return errs
    best = min(r["mean"] for r in res)
    for i, (line, r) in enumerate(zip(body, res)):
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) != 5 or cells[0] != f"`{r['command']}`":
            errs.append(f"markdown row {i}: {line!r}")
            continue
        mean = float(cells[1].split("±")[0])
        rel = float(cells[4].split("±")[0])
        if abs(mean - r["mean"] * 1e3) > 0.051 or \
                abs(float(cells[2]) - r["min"] * 1e3) > 0.051 or \
                abs(float(cells[3]) - r["max"] * 1e3) > 0.051:
            errs.append(f"markdown row {i}: {line!r} disagrees with json")
        if abs(rel - r["mean"] / best) > 0.0051:
            errs.append(f"markdown row {i}: relative {rel}, means give "
                        f"{r['mean'] / best:.3f}")
        if ("±" in cells[1]) != (runs > 1):
            errs.append(f"markdown row {i}: '±' with {runs} run(s)")
    return errs


def main(argv):
    if len(argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    if not shutil.which("hyperfine"):
        print("skipped: hyperfine is not installed", file=sys.stderr)
        return SKIP
    exp = dict(a.split("=", 1) for a in argv[5:])
    ours = {k: open(p, encoding="utf-8").read()
            for k, p in zip(("json", "csv", "md"), argv[1:4])}
    with open(argv[4], encoding="utf-8") as f:
        stats = json.load(f)
    ref = hyperfine_reference(int(exp["runs"]))
    errs = check(ours, ref, stats, exp)
    for e in errs:
        print(e, file=sys.stderr)
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
