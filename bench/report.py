#!/usr/bin/env python3
"""Reads hyperfine and pmerge --bench JSON exports for bench/run.

Usage:
  report.py table [--cpu] HF.json REF  markdown rows: every command's
                                       median, mean ± σ, range and its
                                       ratio to command REF (by median);
                                       wall time with hyperfine's mean
                                       user + system beside it, or with
                                       --cpu the CPU time (user + system)
                                       of a "cpu" export
  report.py claim [--cpu] HF.json CAND REF MAX
                                       prints "RATIO PASS" when
                                       median(CAND) / median(REF) <= MAX,
                                       else "RATIO FAIL"; REF may be a
                                       comma-separated list: the fastest
                                       of them counts
  report.py ci HF.json CAND REF        prints "LOW HIGH": a 95 % bootstrap
                                       confidence interval (seeded, 4000
                                       resamples of each command's runs)
                                       of median(CAND) / median(REF)
  report.py best HF.json CAND...       prints "RATIO NAME": CAND[0]'s
                                       median over the best of all CANDs
  report.py locks BENCH.json DAT       markdown rows for a pmerge --bench
                                       --stats=json report, gnuplot data
                                       (name, median and stddev in ms)
                                       in DAT; prints "ok" on the last
                                       line when every output verified
  report.py locklab EXPORT.json BENCH.json CHART
                                       the lock-lab sweep: EXPORT.json is
                                       pmerge's --export-json (times),
                                       BENCH.json the --stats=json report
                                       of the same runs (fairness,
                                       verification); prints a markdown
                                       table of median wall time and
                                       fairness per strategy and -j, and
                                       "ok" on the last line when every
                                       output verified; draws CHART (PNG)
                                       with matplotlib unless CHART is -
  report.py rss FILE...                for /usr/bin/time -v logs: the
                                       peak RSS in KiB of each, one a line
  report.py follow table PREFIX NAME...
                                       markdown rows for the follow
                                       workload's runs of bench/pmlatency,
                                       PREFIX-NAME-*.json for each NAME:
                                       the latencies of all its runs
                                       pooled (p50, p99, max), the median
                                       over runs of the follower's CPU time
                                       per 1,000 lines (or, for idle runs,
                                       per second)
  report.py follow get STAT PREFIX NAME
                                       prints one of those figures of NAME:
                                       STAT is p50, p99 (ms), cpu1k (ms of
                                       CPU per 1,000 lines) or idle (ms of
                                       CPU per second)
  report.py cpu OUT.json RUNS [--prepare CMD] -n NAME CMD...
                                       runs each CMD (sh -c) RUNS times,
                                       interleaved, after CMD of
                                       --prepare (if given), and writes
                                       the user and system CPU time of
                                       every run (wait4: the command and
                                       all its children) as OUT.json, in
                                       hyperfine's shape plus per-run
                                       "user_times" and "system_times"

Commands are named with hyperfine's --command-name; medians are compared,
never single runs.
"""

import json
import math
import os
import re
import statistics
import subprocess
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


def ratio(v, base):
    return f"{v / base:.3f}" if base > 0 else "–"


def table(path, ref, cpu=False):
    res = load(path)["results"]
    by = {r["command"]: r for r in res}
    base = by[ref]["median"]
    if cpu:
        print(f"| command | CPU median (user + sys) | user | sys | "
              f"mean ± σ | min … max | median / {ref} |")
        print("|---|---:|---:|---:|---:|---:|---:|")
    else:
        print(f"| command | median | mean ± σ | min … max | "
              f"CPU (user + sys, mean) | median / {ref} |")
        print("|---|---:|---:|---:|---:|---:|")
    for r in res:
        sd = r.get("stddev")
        mean = fmt_s(r["mean"]) + (f" ± {fmt_s(sd)}" if sd else "")
        if cpu:
            mid = (f"{fmt_s(statistics.median(r['user_times']))} | "
                   f"{fmt_s(statistics.median(r['system_times']))} | ")
        else:
            mid = ""
        rng = f"{fmt_s(r['min'])} … {fmt_s(r['max'])}"
        tail = "" if cpu else f" {fmt_s(r['user'] + r['system'])} |"
        print(f"| `{r['command']}` | {fmt_s(r['median'])} | {mid}{mean} | "
              f"{rng} |{tail} {ratio(r['median'], base)} |")


def claim(path, cand, refs, limit):
    by = results(path)
    base = min(by[r]["median"] for r in refs.split(","))
    if base <= 0:
        # Faster than hyperfine can tell from starting a shell (a
        # reflink copy on XFS or btrfs): no ratio to give.
        print("– n/a")
        return
    ratio = by[cand]["median"] / base
    print(f"{ratio:.3f} {'PASS' if ratio <= float(limit) else 'FAIL'}")


def cpu_run(cmd):
    """Runs cmd with sh -c; returns (user, system) seconds of it and all
    its children, from wait4."""
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp("sh", ["sh", "-c", cmd])
        finally:
            os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"command failed: {cmd}")
    return ru.ru_utime, ru.ru_stime


def cpu(out, runs, args):
    prepare, cmds = None, []
    while args:
        if args[0] == "--prepare" and len(args) > 1:
            prepare, args = args[1], args[2:]
        elif args[0] == "-n" and len(args) > 2:
            cmds.append((args[1], args[2]))
            args = args[3:]
        else:
            raise SystemExit(__doc__)
    times = {name: [] for name, _ in cmds}
    # One warm-up of each, then the runs in turn: A B A B ...
    for i in range(int(runs) + 1):
        for name, cmd in cmds:
            if prepare:
                subprocess.run(["sh", "-c", prepare], check=True)
            t = cpu_run(cmd)
            if i > 0:
                times[name].append(t)
    res = []
    for name, _ in cmds:
        tot = [u + s for u, s in times[name]]
        res.append({
            "command": name, "mean": statistics.fmean(tot),
            "stddev": statistics.stdev(tot) if len(tot) > 1 else None,
            "median": statistics.median(tot), "min": min(tot),
            "max": max(tot), "times": tot,
            "user": statistics.fmean(u for u, _ in times[name]),
            "system": statistics.fmean(s for _, s in times[name]),
            "user_times": [u for u, _ in times[name]],
            "system_times": [s for _, s in times[name]]})
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"results": res}, f, indent=1)


def ci(path, cand, ref):
    """The ratio of medians is what the claims compare; resampling each
    command's runs shows how far noise alone moves it."""
    import random
    by = results(path)
    a, b = by[cand]["times"], by[ref]["times"]
    rnd = random.Random(1)
    ratios = sorted(
        statistics.median(rnd.choices(a, k=len(a))) /
        statistics.median(rnd.choices(b, k=len(b)))
        for _ in range(4000))
    print(f"{ratios[int(0.025 * len(ratios))]:.3f} "
          f"{ratios[int(0.975 * len(ratios)) - 1]:.3f}")


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


def locklab(export_path, bench_path, chart):
    runs = load(export_path)["results"]
    doc = load(bench_path)
    stats = {(r["lock"], str(r["jobs"])): r for r in doc["results"]}
    locks, jobs = [], []
    for r in runs:
        p = r["parameters"]
        if p["lock"] not in locks:
            locks.append(p["lock"])
        if p["jobs"] not in jobs:
            jobs.append(p["jobs"])
    by = {(r["parameters"]["lock"], r["parameters"]["jobs"]): r for r in runs}
    print("| lock | " + " | ".join(f"-j {j}: median, fairness" for j in jobs)
          + " |")
    print("|---|" + "---:|" * len(jobs))
    all_ok = True
    for lk in locks:
        cells = []
        for j in jobs:
            r, s = by.get((lk, j)), stats.get((lk, j))
            if r is None or s is None:
                cells.append("–")
                continue
            all_ok = all_ok and s["output_ok"] and not any(r["exit_codes"])
            cells.append(f"{fmt_s(r['median'])}, "
                         f"{s['lock_stats']['fairness']:.2f}")
        print(f"| {lk} | " + " | ".join(cells) + " |")
    if chart != "-":
        locklab_chart(chart, locks, jobs, by, stats, doc)
    print("ok" if all_ok else "FAILED")


def locklab_chart(path, locks, jobs, by, stats, doc):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (wall, fair) = plt.subplots(1, 2, figsize=(11, 4.5))
    x = [int(j) for j in jobs]
    for lk in locks:
        pts = [(int(j), by[(lk, j)], stats[(lk, j)]) for j in jobs
               if (lk, j) in by and (lk, j) in stats]
        if not pts:
            continue
        xs = [p[0] for p in pts]
        wall.errorbar(xs, [p[1]["median"] * 1e3 for p in pts],
                      yerr=[(p[1]["stddev"] or 0) * 1e3 for p in pts],
                      marker="o", capsize=3, label=lk)
        fair.plot(xs, [p[2]["lock_stats"]["fairness"] for p in pts],
                  marker="o", label=lk)
    for ax in (wall, fair):
        ax.set_xscale("log", base=2)
        ax.set_xticks(x)
        ax.set_xticklabels([str(v) for v in x])
        ax.set_xlabel("-j (worker threads)")
        ax.grid(True, alpha=0.3)
    wall.set_ylabel("wall time, ms (median ± sample stddev)")
    wall.set_ylim(bottom=0)
    fair.set_ylabel("Jain's fairness over the workers' acquisitions")
    fair.set_ylim(0, 1.05)
    fair.legend(fontsize="small", ncol=2, loc="lower left")
    fig.suptitle(f"pmerge --bench -u {doc['unit']}: {doc['inputs']} inputs, "
                 f"{doc['bytes'] / 1048576:.0f} MiB, {doc['runs']} runs "
                 f"per point, every output verified")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def rss(paths):
    for p in paths:
        with open(p, encoding="utf-8", errors="replace") as f:
            m = re.search(r"Maximum resident set size \(kbytes\): (\d+)",
                          f.read())
        print(m.group(1) if m else "0")


def follow_runs(prefix, name):
    import glob
    # NAME-1.json, NAME-2.json...: not the runs of a NAME-longer.
    paths = sorted(p for p in glob.glob(f"{glob.escape(prefix)}-{name}-*.json")
                   if re.fullmatch(r"\d+\.json",
                                   p[len(prefix) + len(name) + 2:]))
    if not paths:
        raise SystemExit(f"no runs {prefix}-{name}-*.json")
    return [load(p) for p in paths]


def follow_stats(runs):
    """The figures of one follower over its runs."""
    lat = sorted(v for r in runs for v in r["latencies_ms"])

    def q(p):
        # Nearest rank, as bench/pmlatency computes it for one run.
        return lat[max(0, math.ceil(p * len(lat)) - 1)] if lat else 0.0

    cpu_ms = [r["cpu_window_s"] * 1e3 for r in runs]
    per = ([c / r["lines"] * 1000 for c, r in zip(cpu_ms, runs)]
           if runs[0]["lines"] else
           [c / r["window_s"] for c, r in zip(cpu_ms, runs)])
    return {"runs": len(runs), "lines": len(lat), "p50": q(0.50),
            "p99": q(0.99), "max": lat[-1] if lat else 0.0,
            "cpu1k" if runs[0]["lines"] else "idle": statistics.median(per),
            "cpu_min": min(per), "cpu_max": max(per),
            "behind": max(r["max_behind_ms"] for r in runs),
            "command": re.sub(r"^\S*/", "", runs[0]["command"]),
            "files": runs[0]["files"],
            "window": statistics.median(r["window_s"] for r in runs)}


def follow(args):
    if args[0] == "get" and len(args) == 4:
        st = follow_stats(follow_runs(args[2], args[3]))
        print(f"{st[args[1]]:.3f}")
        return
    if args[0] != "table" or len(args) < 3:
        raise SystemExit(__doc__)
    stats = [(n, follow_stats(follow_runs(args[1], n))) for n in args[2:]]
    if "idle" in stats[0][1]:
        print("| follower | files | runs | window | CPU per second "
              "(median) | min … max |")
        print("|---|---:|---:|---:|---:|---:|")
        for _, st in stats:
            print(f"| `{st['command']}` | {st['files']} | {st['runs']} | "
                  f"{st['window']:.1f} s | {st['idle']:.3f} ms | "
                  f"{st['cpu_min']:.3f} … {st['cpu_max']:.3f} ms |")
        return
    print("| follower | runs | lines | p50 | p99 | max | CPU per 1,000 "
          "lines (median) | min … max | writer behind (max) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for _, st in stats:
        print(f"| `{st['command']}` | {st['runs']} | {st['lines']} | "
              f"{st['p50']:.3f} ms | {st['p99']:.3f} ms | "
              f"{st['max']:.1f} ms | {st['cpu1k']:.1f} ms | "
              f"{st['cpu_min']:.1f} … {st['cpu_max']:.1f} ms | "
              f"{st['behind']:.1f} ms |")


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = argv[1], argv[2:]
    cpu_flag = bool(args) and args[0] == "--cpu"
    if cpu_flag:
        args = args[1:]
    if cmd == "table" and len(args) == 2:
        table(*args, cpu=cpu_flag)
    elif cmd == "claim" and len(args) == 4:
        claim(*args)
    elif cmd == "cpu" and len(args) >= 4:
        cpu(args[0], args[1], args[2:])
    elif cmd == "ci" and len(args) == 3:
        ci(*args)
    elif cmd == "best" and len(args) >= 2:
        best(args[0], args[1:])
    elif cmd == "locks" and len(args) == 2:
        locks(*args)
    elif cmd == "locklab" and len(args) == 3:
        locklab(*args)
    elif cmd == "rss":
        rss(args)
    elif cmd == "follow" and len(args) >= 3:
        follow(args)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
