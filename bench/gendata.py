#!/usr/bin/env python3
"""Generates the benchmark data sets of bench/run.

Usage: gendata.py DIR KIND [PARAM=VALUE]...

KIND is one of
  big      COUNT files big1..bigN of SIZE bytes of random data
  small    COUNT files small/f00000.. of 0..MAX bytes each (uniform)
  tiny     COUNT files tiny/t00000.. of 20..30 bytes each: a line of text
  lines    COUNT files lines/l1.. of LINES records of 10..90 bytes each
           (the newline included), printable text
  onerec   one file onerec of SIZE bytes: a single record and its newline
  sorted, sortedmany, sortedhuge
           COUNT files sortedCOUNT/s0001.. of about SIZE bytes each, every
           one sorted bytewise: random text lines of 10..90 bytes (three
           kinds, so that every set is kept)
  timelogs COUNT host logs timelogs/hostN.log of about SIZE bytes each:
           ISO 8601 stamps, one record in 50 with a stack trace

A set is written only when DIR/.KIND.done does not already hold the same
parameters, so that a second run reuses the data.  The random data is
seeded: every machine benchmarks the same bytes.
"""

import os
import random
import string
import sys
import time

CHUNK = 1 << 20


def done_marker(path, kind, params):
    return os.path.join(path, f".{kind}.done"), repr(sorted(params.items()))


def is_done(path, kind, params):
    marker, text = done_marker(path, kind, params)
    try:
        with open(marker, encoding="utf-8") as f:
            return f.read() == text
    except OSError:
        return False


def mark_done(path, kind, params):
    marker, text = done_marker(path, kind, params)
    with open(marker, "w", encoding="utf-8") as f:
        f.write(text)


def write_random(path, size, rng):
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, CHUNK)
            f.write(rng.randbytes(n))
            left -= n


def gen_big(path, p, rng):
    for i in range(1, p["count"] + 1):
        write_random(os.path.join(path, f"big{i}"), p["size"], rng)


def gen_small(path, p, rng):
    d = os.path.join(path, "small")
    os.makedirs(d, exist_ok=True)
    for name in os.listdir(d):
        os.unlink(os.path.join(d, name))
    for i in range(p["count"]):
        size = rng.randint(0, p["max"])
        with open(os.path.join(d, f"f{i:05d}"), "wb") as f:
            f.write(rng.randbytes(size))


def gen_tiny(path, p, rng):
    d = os.path.join(path, "tiny")
    os.makedirs(d, exist_ok=True)
    for name in os.listdir(d):
        os.unlink(os.path.join(d, name))
    pool = text_pool(rng, 1 << 12)
    for i in range(p["count"]):
        n = rng.randint(19, 29)  # and the newline: 20..30 bytes
        off = rng.randrange(0, len(pool) - n)
        with open(os.path.join(d, f"t{i:05d}"), "wb") as f:
            f.write(pool[off:off + n] + b"\n")


def text_pool(rng, size):
    alphabet = (string.ascii_letters + string.digits + " .,:;-_=+/").encode()
    return bytes(rng.choice(alphabet) for _ in range(size))


def gen_lines(path, p, rng):
    d = os.path.join(path, "lines")
    os.makedirs(d, exist_ok=True)
    pool = text_pool(rng, 1 << 16)
    for i in range(1, p["count"] + 1):
        out = []
        for _ in range(p["lines"]):
            n = rng.randint(9, 89)  # and the newline: 10..90 bytes
            off = rng.randrange(0, len(pool) - n)
            out.append(pool[off:off + n])
        with open(os.path.join(d, f"l{i}"), "wb") as f:
            f.write(b"\n".join(out))
            f.write(b"\n")


def gen_onerec(path, p, rng):
    pool = text_pool(rng, CHUNK)
    with open(os.path.join(path, "onerec"), "wb") as f:
        left = p["size"] - 1
        while left > 0:
            n = min(left, len(pool))
            f.write(pool[:n])
            left -= n
        f.write(b"\n")


def gen_sorted(path, p, rng):
    """count inputs of about size bytes each, every one sorted bytewise
    (LC_ALL=C), in sorted<count>/: the sorted merge's data."""
    d = os.path.join(path, f"sorted{p['count']}")
    os.makedirs(d, exist_ok=True)
    alphabet = (string.ascii_letters + string.digits + " .,:;-_=+/").encode()
    table = bytes(alphabet[b % len(alphabet)] for b in range(256))
    for i in range(1, p["count"] + 1):
        # Independent random text lines of 10..90 bytes (the newline
        # included), as sort benchmarks use, not substrings of one pool.
        text = rng.randbytes(p["size"]).translate(table)
        lines, pos = [], 0
        while pos < len(text):
            n = rng.randint(9, 89)
            lines.append(text[pos:pos + n])
            pos += n
        lines.sort()
        with open(os.path.join(d, f"s{i:04d}"), "wb") as f:
            f.write(b"\n".join(lines))
            f.write(b"\n")


def gen_timelogs(path, p, rng):
    """count host logs of about size bytes each in timelogs/: ISO 8601
    stamps in milliseconds (UTC, increasing, hosts interleaved), one record
    in 50 an ERROR with a stack trace of 5 to 15 lines."""
    d = os.path.join(path, "timelogs")
    os.makedirs(d, exist_ok=True)
    pool = text_pool(rng, 1 << 16)
    base = 1746086400000  # 2025-05-01T08:00:00Z in milliseconds
    for i in range(1, p["count"] + 1):
        t, total = base, 0
        with open(os.path.join(d, f"host{i}.log"), "wb") as f:
            while total < p["size"]:
                t += rng.randint(0, 40)
                s, ms = divmod(t, 1000)
                stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s))
                n = rng.randint(20, 80)
                off = rng.randrange(0, len(pool) - n)
                err = rng.randrange(50) == 0
                rec = (f"{stamp}.{ms:03d}Z host{i} "
                       f"{'ERROR' if err else 'INFO'} ").encode()
                rec += pool[off:off + n] + b"\n"
                if err:
                    rec += b"java.lang.IllegalStateException: failed\n"
                    for k in range(rng.randint(5, 15)):
                        rec += f"\tat com.example.C{k}.run(C{k}.java:{k + 10})\n".encode()
                f.write(rec)
                total += len(rec)


GENERATORS = {"big": gen_big, "small": gen_small, "tiny": gen_tiny,
              "lines": gen_lines,
              "onerec": gen_onerec,
              "sorted": gen_sorted,
              "sortedmany": gen_sorted,
              "sortedhuge": gen_sorted,
              "timelogs": gen_timelogs}


def main(argv):
    if len(argv) < 3 or argv[2] not in GENERATORS:
        print(__doc__, file=sys.stderr)
        return 2
    path, kind = argv[1], argv[2]
    params = {k: int(v) for k, v in (a.split("=", 1) for a in argv[3:])}
    os.makedirs(path, exist_ok=True)
    if is_done(path, kind, params):
        return 0
    GENERATORS[kind](path, params, random.Random(f"pmerge-{kind}"))
    mark_done(path, kind, params)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
