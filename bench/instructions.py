#!/usr/bin/env python3
"""User-space instructions per round trip (callgrind) of muxd's byte paths.

Usage: bench/instructions.py --muxd LABEL=PATH [--muxd LABEL=PATH]...
           --muxbench PATH --upstream PATH [--conns 1,100] [--cg-count N]

For each muxd given (e.g. before=/tmp/old/build-release/muxd and
now=build-release/muxd, Release builds) and each connection count, runs
muxbench's 64-byte ping-pong against:

  echo           muxd -q -l 127.0.0.1:0
  relay          muxd -q -l 127.0.0.1:0 --to UPSTREAM (an epoll_echo)
  relay+latency  the same with --fault latency=1 (one stage each way it
                 acts: down, the default)
  relay+2stages  --fault latency=1 --fault bandwidth=1G (two stages)

under valgrind --tool=callgrind, twice with different round-trip counts,
and prints the difference of the instruction totals over the difference
of the round trips (start-up, connecting and shutdown cancel out), as
compare.py's measure_instructions does. Only the muxd process is counted.
Instruction counts do not depend on the machine's load, so labels run
one after the other compare fairly. A relay configuration a muxd does not
know (an unknown fault kind) is reported as "-".
"""
import argparse
import os
import subprocess
import sys
import tempfile

import compare

CONFIGS = [
    ("echo", [], False),
    ("relay", [], True),
    ("relay+latency", ["--fault", "latency=1"], True),
    ("relay+2stages", ["--fault", "latency=1", "--fault", "bandwidth=1G"],
     True),
]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--muxd", action="append", required=True,
                   help="LABEL=PATH of a muxd binary (repeatable)")
    p.add_argument("--muxbench", required=True)
    p.add_argument("--upstream", required=True, help="an epoll_echo binary")
    p.add_argument("--conns", default="1,100")
    p.add_argument("--cg-count", type=int, default=10000)
    args = p.parse_args()
    args.logdir = tempfile.mkdtemp(prefix="muxd-instructions.")
    conns = [int(c) for c in args.conns.split(",")]
    up = compare.Server("upstream", [args.upstream, "0"], args.logdir,
                        pin=False)
    rows = []
    try:
        for label, path in (m.split("=", 1) for m in args.muxd):
            for name, extra, relay in CONFIGS:
                cmd = [path, "-q", "-l", "127.0.0.1:0"]
                if relay:
                    cmd += ["--to", f"127.0.0.1:{up.port}"]
                for c in conns:
                    try:
                        ir = compare.measure_instructions(
                            args, f"{label}-{name}", cmd + extra, c)
                        text = f"{ir:.1f}"
                    except compare.BenchError as e:
                        print(f"{label} {name}: {e}", file=sys.stderr)
                        text = "-"
                    rows.append((label, name, c, text))
                    print(f"{label:8} {name:15} {c:4} conns: {text}",
                          flush=True)
    finally:
        up.stop()
    print("\n| muxd | path | connections | instructions per round trip |")
    print("|---|---|---|---|")
    for label, name, c, text in rows:
        print(f"| {label} | {name} | {c} | {text} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
