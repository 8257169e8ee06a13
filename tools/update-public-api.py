#!/usr/bin/env python3
"""Brings the public-API files of every SoftKvm library in line with its code (docs/packages.md#public-api).

The libraries under src/ track their public API in PublicAPI.Shipped.txt (what a released version has) and
PublicAPI.Unshipped.txt (added since) beside each project; the build fails with RS0016 (public API not in
the files) or RS0017 (in the files but gone) until they agree. This script builds the libraries once with
those diagnostics as warnings, adds every new symbol to PublicAPI.Unshipped.txt and removes every symbol
that is gone from whichever file lists it; review the diff and commit it with the change.

    python3 tools/update-public-api.py            # after changing public API
    python3 tools/update-public-api.py --ship     # at a release: Unshipped moves into Shipped
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINE = re.compile(r"(?:warning|error) (RS0016|RS0017): Symbol '(.+?)' is (?:not part of the declared public API|part of the declared API, but is either not public or could not be found).*\[(.+?\.csproj)")
HEADER = "#nullable enable"


def read(path):
    if not os.path.exists(path):
        return []
    return [l for l in open(path, encoding="utf-8").read().splitlines() if l.strip() and l.strip() != HEADER]


def write(path, lines):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(HEADER + "\n")
        for l in sorted(set(lines), key=lambda s: (s.lstrip("~*"), s)):
            f.write(l + "\n")


def ship():
    for project in sorted(os.listdir(os.path.join(ROOT, "src"))):
        d = os.path.join(ROOT, "src", project)
        unshipped = os.path.join(d, "PublicAPI.Unshipped.txt")
        if os.path.exists(unshipped):
            shipped = os.path.join(d, "PublicAPI.Shipped.txt")
            new = read(unshipped)
            removed = {l[len("*REMOVED*"):] for l in new if l.startswith("*REMOVED*")}
            write(shipped, [l for l in read(shipped) if l not in removed] + [l for l in new if not l.startswith("*REMOVED*")])
            write(unshipped, [])


def update():
    build = subprocess.run(
        ["dotnet", "build", os.path.join(ROOT, "src", "SoftKvm.Cli"), "--no-incremental",
         "-p:TreatWarningsAsErrors=false", "-p:WarningsAsErrors=", "-clp:NoSummary"],
        cwd=ROOT, capture_output=True, text=True)
    added, gone = {}, {}
    for m in LINE.finditer(build.stdout):
        kind, symbol, project = m.groups()
        (added if kind == "RS0016" else gone).setdefault(os.path.dirname(project), set()).add(symbol)
    for d in sorted(set(added) | set(gone)):
        unshipped = os.path.join(d, "PublicAPI.Unshipped.txt")
        shipped = os.path.join(d, "PublicAPI.Shipped.txt")
        u, s = read(unshipped), read(shipped)
        dead = gone.get(d, set())
        write(unshipped, [l for l in u if l not in dead] + sorted(added.get(d, set())))
        if any(l in dead for l in s):
            write(shipped, [l for l in s if l not in dead])
        print(f"{os.path.relpath(d, ROOT)}: {len(added.get(d, ()))} added, {len(dead)} removed")
    if build.returncode != 0:
        errors = [l for l in build.stdout.splitlines() if ": error " in l]
        print("\n".join(sorted(set(errors))[:20]), file=sys.stderr)
        print("the build failed for other reasons (above); fix them and run this again", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if "--ship" in sys.argv[1:]:
        ship()
        sys.exit(0)
    sys.exit(update())
