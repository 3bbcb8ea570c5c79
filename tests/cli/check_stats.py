#!/usr/bin/env python3
"""Checks one `pmerge --stats=json` document against the keys that README.md
("Lock strategies") and the man page document.

Usage: check_stats.py FILE [KEY=VALUE]...

FILE must hold exactly one JSON object and nothing else.  Each KEY=VALUE
states what the test knows about the merge: lock, jobs, unit, order,
inputs, bytes, records, version.  Every problem found is printed on
standard error; the exit status is 1 if there was any, else 0.
"""

import json
import sys


def is_int(v):
    # bool is a subclass of int in Python, but true is no count.
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v):
    return is_int(v) or isinstance(v, float)


def check(doc, exp):
    errs = []

    def need(obj, key, kind, where):
        if not isinstance(obj, dict) or key not in obj:
            errs.append(f"{where}: missing key {key!r}")
            return None
        v = obj[key]
        ok = {
            "int": is_int(v) and v >= 0,
            "num": is_num(v) and v >= 0,
            "str": isinstance(v, str),
            "obj": isinstance(v, dict),
            "list": isinstance(v, list),
        }[kind]
        if not ok:
            errs.append(f"{where}.{key}: {v!r} is not a {kind}")
            return None
        return v

    if not isinstance(doc, dict):
        return ["the document is not an object"]
    version = need(doc, "version", "str", "top")
    lock = need(doc, "lock", "str", "top")
    unit = need(doc, "unit", "str", "top")
    order = need(doc, "order", "str", "top")
    jobs = need(doc, "jobs", "int", "top")
    inputs = need(doc, "inputs", "int", "top")
    failed = need(doc, "failed_inputs", "int", "top")
    nbytes = need(doc, "bytes", "int", "top")
    records = need(doc, "records", "int", "top")
    need(doc, "wall_s", "num", "top")

    ls = need(doc, "lock_stats", "obj", "top")
    acq = contended = holders = depth = fairness = None
    if ls is not None:
        acq = need(ls, "acquisitions", "int", "lock_stats")
        contended = need(ls, "contended", "int", "lock_stats")
        holders = need(ls, "max_holders", "int", "lock_stats")
        depth = need(ls, "max_depth", "int", "lock_stats")
        fairness = need(ls, "fairness", "num", "lock_stats")
        for h in ("wait_ns", "hold_ns"):
            hist = need(ls, h, "obj", "lock_stats")
            if hist is None:
                continue
            vals = {}
            for k in ("total", "p50", "p99", "max"):
                vals[k] = need(hist, k, "int", f"lock_stats.{h}")
            if None in vals.values():
                continue
            if vals["p50"] > vals["p99"]:
                errs.append(f"lock_stats.{h}: p50 {vals['p50']} > "
                            f"p99 {vals['p99']}")
            if vals["max"] > vals["total"]:
                errs.append(f"lock_stats.{h}: max {vals['max']} > "
                            f"total {vals['total']}")

    workers = need(doc, "workers", "list", "top")
    if workers is not None:
        sums = {"inputs": 0, "bytes": 0, "acquisitions": 0}
        for i, w in enumerate(workers):
            for k in ("inputs", "bytes", "acquisitions", "wait_ns"):
                v = need(w, k, "int", f"workers[{i}]")
                if v is not None and k in sums:
                    sums[k] += v
        # A worker is started per job, but never more than there are
        # inputs: the surplus would only hold idle buffers.
        ninputs = doc.get("inputs")
        if jobs is not None and isinstance(ninputs, int) and \
                len(workers) != min(jobs, ninputs):
            errs.append(f"{len(workers)} workers for jobs {jobs} and "
                        f"{ninputs} inputs")
        if nbytes is not None and sums["bytes"] != nbytes:
            errs.append(f"workers' bytes sum to {sums['bytes']}, "
                        f"bytes is {nbytes}")
        if inputs is not None and sums["inputs"] != inputs:
            errs.append(f"workers' inputs sum to {sums['inputs']}, "
                        f"inputs is {inputs}")
        if acq is not None and sums["acquisitions"] != acq:
            errs.append(f"workers' acquisitions sum to "
                        f"{sums['acquisitions']}, lock_stats has {acq}")
        # Jain's index over the workers' acquisitions, recomputed here.
        xs = [w.get("acquisitions") for w in workers]
        if fairness is not None and xs and all(is_int(x) for x in xs):
            sq = sum(x * x for x in xs)
            want = sum(xs) ** 2 / (len(xs) * sq) if sq else 1.0
            if abs(fairness - want) > 1e-5:
                errs.append(f"fairness {fairness} but the workers' "
                            f"acquisitions give {want:.6f}")
            if not 1.0 / len(xs) - 1e-6 <= fairness <= 1.0 + 1e-6:
                errs.append(f"fairness {fairness} outside "
                            f"[1/{len(xs)}, 1]")

    def expect(name, got, want):
        if got is not None and want is not None and got != want:
            errs.append(f"{name} is {got!r}, want {want!r}")

    def expect_int(name, got):
        if name in exp:
            expect(name, got, int(exp[name]))

    expect("version", version, exp.get("version"))
    expect("lock", lock, exp.get("lock"))
    expect("unit", unit, exp.get("unit"))
    expect("order", order, exp.get("order"))
    expect_int("jobs", jobs)
    expect_int("inputs", inputs)
    expect_int("bytes", nbytes)
    expect_int("records", records)
    expect("failed_inputs", failed, 0)

    if acq is not None and inputs is not None and acq < inputs:
        errs.append(f"acquisitions {acq} < inputs {inputs}")
    if acq is not None and contended is not None and contended > acq:
        errs.append(f"contended {contended} > acquisitions {acq}")
    want_lock = exp.get("lock", lock)
    if holders is not None and want_lock:
        if want_lock.startswith("sem:"):
            n = int(want_lock[4:])
            cap = min(n, jobs) if jobs is not None else n
            if not 1 <= holders <= cap:
                errs.append(f"max_holders {holders} not in 1..{cap} "
                            f"for {want_lock}")
        elif holders != 1:
            errs.append(f"max_holders {holders} for {want_lock}, want 1")
    # The recursive lock really re-enters: outer hold plus inner write.
    if depth is not None and want_lock == "rlock" and depth < 2:
        errs.append(f"max_depth {depth} for rlock, want at least 2")
    return errs


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    exp = dict(a.split("=", 1) for a in sys.argv[2:])
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    try:
        doc = json.loads(text)
    except ValueError as e:
        print(f"not one JSON document ({e}): {text[:300]!r}",
              file=sys.stderr)
        return 1
    errs = check(doc, exp)
    for e in errs:
        print(e, file=sys.stderr)
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
