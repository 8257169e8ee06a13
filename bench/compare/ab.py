#!/usr/bin/env python3
"""Alternating A/B timing of two softkvm command lines (docs/snapshots.md#figures-of-deterministic-execution).

    bench/compare/ab.py [--together CORE] PAIRS MARKER -- A-ARGS... -- B-ARGS...

Runs A, B, A, B ... (PAIRS pairs) as whole processes, each from its start until its standard output shows
MARKER (then it is killed) or until it exits when MARKER is '-', and takes its CPU time (user + system, all
threads: on a loaded machine the wall time measures the load more than the program). Prints every pair
(CPU and wall), the medians of A and B, and the median of the per-pair ratios B/A of CPU time. An argument SOFTKVM_TRANSLATE=0 before a
command sets that variable for it.

With --together CORE the two processes of a pair run at the same time, both pinned to host CPU CORE (sched_setaffinity):
they share one core's load, its drift and its caches, so that on a busy machine the pair's ratio measures the programs
rather than the minute (session 10: two identical Linux boots so paired at load average 30-40 differed by 0.986-1.007,
where alternating pairs differed by up to 20%). Each is still timed by its own CPU time; wall times then mean little.
"""
import os
import signal
import statistics
import subprocess
import sys
import time


def launch(args, core=None):
    """Starts one command (its leading NAME=VALUE arguments set in its environment), pinned to host CPU core if given."""
    env = dict(os.environ)
    while args and "=" in args[0] and not args[0].startswith("-"):
        name, value = args[0].split("=", 1)
        env[name] = value
        args = args[1:]
    pin = (lambda: os.sched_setaffinity(0, {core})) if core is not None else None
    return args, time.monotonic(), subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                                   stderr=subprocess.DEVNULL, env=env, preexec_fn=pin)


def timed(args, marker, launched=None):
    args, start, p = launched or launch(args)
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


def together(a, b, marker, core):
    """A and B started at once on one core; each timed to its marker on its own thread."""
    import threading
    sa, sb = launch(a, core), launch(b, core)
    out = {}
    ta = threading.Thread(target=lambda: out.__setitem__("a", timed(a, marker, sa)))
    ta.start()
    out["b"] = timed(b, marker, sb)
    ta.join()
    return out["a"], out["b"]


def main():
    argv = sys.argv[1:]
    core = None
    try:
        if argv and argv[0] == "--together":
            core, argv = int(argv[1]), argv[2:]
        pairs, marker = int(argv[0]), argv[1]
        rest = argv[2:]
        split = [i for i, a in enumerate(rest) if a == "--"]
        a, b = rest[split[0] + 1:split[1]], rest[split[1] + 1:]
        if split[0] != 0 or not a or not b:
            raise ValueError
    except (ValueError, IndexError):
        print("usage: bench/compare/ab.py [--together CORE] PAIRS MARKER -- A-ARGS... -- B-ARGS...", file=sys.stderr)
        sys.exit(2)
    ta, tb = [], []
    for i in range(pairs):
        (ca, wa), (cb, wb) = together(a, b, marker, core) if core is not None else (timed(a, marker), timed(b, marker))
        ta.append(ca)
        tb.append(cb)
        print(f"pair {i + 1}: A {ca:.2f} s CPU ({wa:.2f} s wall)  B {cb:.2f} s CPU ({wb:.2f} s wall)  B/A {cb / ca:.3f}", flush=True)
    print(f"median A {statistics.median(ta):.2f} s CPU, median B {statistics.median(tb):.2f} s CPU, "
          f"median of B/A {statistics.median(y / x for x, y in zip(ta, tb)):.3f}")


main()
