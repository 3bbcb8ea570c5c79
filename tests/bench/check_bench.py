#!/usr/bin/env python3
"""Checks one `pmerge --bench --stats=json` document against the keys that
README.md ("Benchmarks") and the man page document.

Usage: check_bench.py FILE [KEY=VALUE]...

FILE must hold exactly one JSON object and nothing else.  Each KEY=VALUE
states what the test knows about the benchmark:

  runs=N        the --bench=N given
  locks=A,B     the strategies, in order; "default" means mutex, rlock,
                sem:1, sem:<jobs>, spin, ticket, mcs, adaptive (sem:<jobs>
                left out when jobs is 1)
  jobs=N,M      the job counts, in order (one, or the --bench-jobs list);
                the results run every strategy at the first, then the next
  unit=U order=O inputs=N bytes=N version=V
  verified=all  every output_ok is true (the default)
  verified=not  at least one output_ok is false

Every problem found is printed on standard error; the exit status is 1 if
there was any, else 0.
"""

import json
import math
import sys

TOP_KEYS = ["version", "runs", "warmup", "jobs", "unit", "order", "inputs",
            "bytes", "results"]
RESULT_KEYS = ["lock", "jobs", "wall_s", "times_s", "mib_per_s", "relative",
               "output_ok", "lock_stats"]
WALL_KEYS = ["mean", "stddev", "median", "min", "max"]
LOCK_KEYS = ["acquisitions", "contended", "max_holders", "max_depth",
             "fairness", "wait_ns", "hold_ns"]
TIME_KEYS = ["total", "p50", "p99", "max"]


def is_int(v):
    # bool is a subclass of int in Python, but true is no count.
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v):
    return (is_int(v) or isinstance(v, float)) and math.isfinite(v)


def exact_keys(errs, obj, keys, where):
    if not isinstance(obj, dict):
        errs.append(f"{where}: not an object")
        return False
    missing = [k for k in keys if k not in obj]
    extra = [k for k in obj if k not in keys]
    if missing:
        errs.append(f"{where}: missing keys {missing}")
    if extra:
        errs.append(f"{where}: unexpected keys {extra}")
    return not missing


def check_result(errs, r, runs, where):
    if not exact_keys(errs, r, RESULT_KEYS, where):
        return
    w = r["wall_s"]
    if exact_keys(errs, w, WALL_KEYS, where + ".wall_s"):
        if not all(is_num(w[k]) and w[k] >= 0 for k in WALL_KEYS):
            errs.append(f"{where}.wall_s: not non-negative numbers: {w}")
        elif not w["min"] <= w["median"] <= w["max"] or \
                not w["min"] <= w["mean"] <= w["max"]:
            errs.append(f"{where}.wall_s: min/median/mean/max out of "
                        f"order: {w}")
    t = r["times_s"]
    if not isinstance(t, list) or not all(is_num(x) and x > 0 for x in t):
        errs.append(f"{where}.times_s: not a list of positive numbers")
    elif runs is not None and len(t) != runs:
        errs.append(f"{where}.times_s: {len(t)} entries, expected {runs}")
    elif isinstance(w, dict) and all(is_num(w.get(k)) for k in WALL_KEYS):
        s = sorted(t)
        mid = (s[(len(s) - 1) // 2] + s[len(s) // 2]) / 2
        if abs(min(t) - w["min"]) > 1e-6 or abs(max(t) - w["max"]) > 1e-6:
            errs.append(f"{where}: min/max disagree with times_s")
        if abs(mid - w["median"]) > 1e-6:
            errs.append(f"{where}: median {w['median']} is not that of "
                        f"times_s ({mid})")
        if abs(sum(t) / len(t) - w["mean"]) > 1e-6:
            errs.append(f"{where}: mean disagrees with times_s")
    for k in ("mib_per_s", "relative"):
        if not is_num(r[k]) or r[k] < 0:
            errs.append(f"{where}.{k}: not a non-negative number")
    if not isinstance(r["output_ok"], bool):
        errs.append(f"{where}.output_ok: not a boolean")
    ls = r["lock_stats"]
    if exact_keys(errs, ls, LOCK_KEYS, where + ".lock_stats"):
        for k in ("acquisitions", "contended", "max_holders", "max_depth"):
            if not is_int(ls[k]) or ls[k] < 0:
                errs.append(f"{where}.lock_stats.{k}: not a count")
        for k in ("wait_ns", "hold_ns"):
            if exact_keys(errs, ls[k], TIME_KEYS, f"{where}.lock_stats.{k}"):
                if not all(is_int(ls[k][x]) and ls[k][x] >= 0
                           for x in TIME_KEYS):
                    errs.append(f"{where}.lock_stats.{k}: not counts")
        # Jain's index lies in [1/n, 1] for n workers.
        if not is_num(ls["fairness"]) or not 0 < ls["fairness"] <= 1:
            errs.append(f"{where}.lock_stats.fairness: not in (0, 1]")
        if is_int(ls["acquisitions"]) and ls["acquisitions"] < 1:
            errs.append(f"{where}.lock_stats: no acquisition at all")


def check(doc, exp):
    errs = []
    if not exact_keys(errs, doc, TOP_KEYS, "document"):
        return errs
    runs = int(exp["runs"]) if "runs" in exp else None
    for k in ("runs", "inputs", "bytes"):
        if k in exp and doc[k] != int(exp[k]):
            errs.append(f"{k} is {doc[k]!r}, expected {exp[k]}")
    # One job count is a number; a --bench-jobs sweep is a list of them.
    jobs = doc["jobs"]
    if isinstance(jobs, list):
        if len(jobs) < 2 or not all(is_int(j) and j > 0 for j in jobs):
            errs.append(f"jobs {jobs!r}: not a list of counts")
            return errs
    elif is_int(jobs) and jobs > 0:
        jobs = [jobs]
    else:
        errs.append(f"jobs {jobs!r}: not a count")
        return errs
    if "jobs" in exp and jobs != [int(j) for j in exp["jobs"].split(",")]:
        errs.append(f"jobs is {doc['jobs']!r}, expected {exp['jobs']}")
    for k in ("unit", "order", "version"):
        if k in exp and doc[k] != exp[k]:
            errs.append(f"{k} is {doc[k]!r}, expected {exp[k]!r}")
    if doc["warmup"] != 1:
        errs.append(f"warmup is {doc['warmup']!r}, expected 1")
    res = doc["results"]
    if not isinstance(res, list) or not res:
        errs.append("results: not a non-empty list")
        return errs
    for i, r in enumerate(res):
        check_result(errs, r, runs, f"results[{i}]")
    if errs:
        return errs

    # Every strategy at every job count, job count by job count.
    names = [(r["lock"], r["jobs"]) for r in res]
    want = []
    for j in jobs:
        locks = exp.get("locks", "default")
        if locks == "default":
            locks = ["mutex", "rlock", "sem:1"] + \
                ([f"sem:{j}"] if j != 1 else []) + \
                ["spin", "ticket", "mcs", "adaptive"]
        else:
            locks = locks.split(",")
        want += [(lk, j) for lk in locks]
    if names != want:
        errs.append(f"strategies and jobs {names}, expected {want}")

    rel = [r["relative"] for r in res]
    if min(rel) != 1.0:
        errs.append(f"the fastest strategy has relative {min(rel)}, not 1.0")
    best = min(r["wall_s"]["median"] for r in res)
    for r in res:
        expect = r["wall_s"]["median"] / best
        if abs(r["relative"] - expect) > 1e-3 * expect:
            errs.append(f"{r['lock']}: relative {r['relative']}, median "
                        f"ratio {expect}")
        if r["wall_s"]["median"] > 0 and is_int(doc["bytes"]):
            rate = doc["bytes"] / 1048576 / r["wall_s"]["median"]
            if abs(r["mib_per_s"] - rate) > 1e-3 * rate + 1e-3:
                errs.append(f"{r['lock']}: mib_per_s {r['mib_per_s']}, "
                            f"bytes/median gives {rate}")

    ok = [r["output_ok"] for r in res]
    verified = exp.get("verified", "all")
    if verified == "all" and not all(ok):
        errs.append(f"output_ok is not true everywhere: {ok}")
    if verified == "not" and all(ok):
        errs.append("every output_ok is true, expected a failed one")
    return errs


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    exp = dict(a.split("=", 1) for a in argv[2:])
    with open(argv[1], encoding="utf-8") as f:
        text = f.read()
    try:
        doc = json.loads(text)
    except ValueError as e:
        print(f"{argv[1]}: not one JSON document: {e}", file=sys.stderr)
        return 1
    errs = check(doc, exp)
    for e in errs:
        print(f"{argv[1]}: {e}", file=sys.stderr)
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
