#!/usr/bin/env python3
"""Alternating A/B timing of two softkvm command lines (docs/snapshots.md#figures-of-deterministic-execution).

    bench/compare/ab.py PAIRS MARKER -- A-ARGS... -- B-ARGS...

Runs A, B, A, B ... (PAIRS pairs) as whole processes, each from its start until its standard output shows
MARKER (then it is killed) or until it exits when MARKER is '-', and takes its CPU time (user + system, all
threads: on a loaded machine the wall time measures the load more than the program). Prints every pair
(CPU and wall), the medians of A and B, and the median of the per-pair ratios B/A of CPU time. An argument SOFTKVM_TRANSLATE=0 before a
command sets that variable for it.
"""
import os
import signal
import statistics
import subprocess
import sys
import time


def timed(args, marker):
    env = dict(os.environ)
    while args and "=" in args[0] and not args[0].startswith("-"):
        name, value = args[0].split("=", 1)
        env[name] = value
        args = args[1:]
    start = time.monotonic()
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    seen = b""
    while True:
        chunk = p.stdout.read1(65536) if marker != "-" else p.stdout.read()
        if not chunk:
            break
        seen = (seen + chunk)[-4096:]
        if marker != "-" and marker.encode() in seen:
            break
    wall = time.monotonic() - start
    if marker != "-":
        os.kill(p.pid, signal.SIGKILL)
    _, _, usage = os.wait4(p.pid, 0)  # reaped here (not by Popen), for its CPU time
    if marker != "-" and marker.encode() not in seen:
        sys.exit(f"{' '.join(args)}: '{marker}' did not appear")
    return usage.ru_utime + usage.ru_stime, wall


def main():
    pairs, marker = int(sys.argv[1]), sys.argv[2]
    rest = sys.argv[3:]
    split = [i for i, a in enumerate(rest) if a == "--"]
    a, b = rest[split[0] + 1:split[1]], rest[split[1] + 1:]
    ta, tb = [], []
    for i in range(pairs):
        (ca, wa), (cb, wb) = timed(a, marker), timed(b, marker)
        ta.append(ca)
        tb.append(cb)
        print(f"pair {i + 1}: A {ca:.2f} s CPU ({wa:.2f} s wall)  B {cb:.2f} s CPU ({wb:.2f} s wall)  B/A {cb / ca:.3f}", flush=True)
    print(f"median A {statistics.median(ta):.2f} s CPU, median B {statistics.median(tb):.2f} s CPU, "
          f"median of B/A {statistics.median(y / x for x, y in zip(ta, tb)):.3f}")


main()
