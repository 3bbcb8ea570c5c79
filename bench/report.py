#!/usr/bin/env python3
"""Reads hyperfine and pmerge --bench JSON exports for bench/run.

Usage:
  report.py table HF.json REF          markdown rows: every command's
                                       median, mean ± σ, range and its
                                       ratio to command REF (by median)
  report.py claim HF.json CAND REF MAX prints "RATIO PASS" when
                                       median(CAND) / median(REF) <= MAX,
                                       else "RATIO FAIL"; REF may be a
                                       comma-separated list: the fastest
                                       of them counts
  report.py best HF.json CAND...       prints "RATIO NAME": CAND[0]'s
                                       median over the best of all CANDs
  report.py locks BENCH.json DAT       markdown rows for a pmerge --bench
                                       --stats=json report, gnuplot data
                                       (name, median and stddev in ms)
                                       in DAT; prints "ok" on the last
                                       line when every output verified
  report.py rss FILE...                for /usr/bin/time -v logs: the
                                       peak RSS in KiB of each, one a line

Commands are named with hyperfine's --command-name; medians are compared,
never single runs.
"""

import json
import math
import re
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def results(path):
    return {r["command"]: r for r in load(path)["results"]}


def fmt_s(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if v >= 1:
        return f"{v:.3f} s"
    if v >= 1e-3:
        return f"{v * 1e3:.1f} ms"
    return f"{v * 1e6:.0f} µs"


def table(path, ref):
    res = load(path)["results"]
    by = {r["command"]: r for r in res}
    base = by[ref]["median"]
    print(f"| command | median | mean ± σ | min … max | median / {ref} |")
    print("|---|---:|---:|---:|---:|")
    for r in res:
        sd = r.get("stddev")
        mean = fmt_s(r["mean"]) + (f" ± {fmt_s(sd)}" if sd else "")
        print(f"| `{r['command']}` | {fmt_s(r['median'])} | {mean} | "
              f"{fmt_s(r['min'])} … {fmt_s(r['max'])} | "
              f"{r['median'] / base:.3f} |")


def claim(path, cand, refs, limit):
    by = results(path)
    base = min(by[r]["median"] for r in refs.split(","))
    ratio = by[cand]["median"] / base
    print(f"{ratio:.3f} {'PASS' if ratio <= float(limit) else 'FAIL'}")


def best(path, cands):
    by = results(path)
    fastest = min(cands, key=lambda c: by[c]["median"])
    print(f"{by[cands[0]]['median'] / by[fastest]['median']:.3f} {fastest}")


def locks(path, dat):
    doc = load(path)
    print("| lock | median | mean ± σ | relative | MiB/s | acquisitions "
          "| contended | wait p99 | hold p99 | max holders | verified |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    all_ok = True
    with open(dat, "w", encoding="utf-8") as out:
        for r in doc["results"]:
            w, ls = r["wall_s"], r["lock_stats"]
            acq = ls["acquisitions"]
            cont = 100.0 * ls["contended"] / acq if acq else 0.0
            print(f"| {r['lock']} | {fmt_s(w['median'])} | "
                  f"{fmt_s(w['mean'])} ± {fmt_s(w['stddev'])} | "
                  f"{r['relative']:.3f} | {r['mib_per_s']:.1f} | {acq} | "
                  f"{cont:.1f}% | {ls['wait_ns']['p99'] / 1e3:.1f} µs | "
                  f"{ls['hold_ns']['p99'] / 1e3:.1f} µs | "
                  f"{ls['max_holders']} | "
                  f"{'ok' if r['output_ok'] else 'FAILED'} |")
            out.write(f"{r['lock']} {w['median'] * 1e3:.3f} "
                      f"{w['stddev'] * 1e3:.3f}\n")
            all_ok = all_ok and r["output_ok"]
    print("ok" if all_ok else "FAILED")


def rss(paths):
    for p in paths:
        with open(p, encoding="utf-8", errors="replace") as f:
            m = re.search(r"Maximum resident set size \(kbytes\): (\d+)",
                          f.read())
        print(m.group(1) if m else "0")


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = argv[1], argv[2:]
    if cmd == "table" and len(args) == 2:
        table(*args)
    elif cmd == "claim" and len(args) == 4:
        claim(*args)
    elif cmd == "best" and len(args) >= 2:
        best(args[0], args[1:])
    elif cmd == "locks" and len(args) == 2:
        locks(*args)
    elif cmd == "rss":
        rss(args)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
