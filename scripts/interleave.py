#!/usr/bin/env python3
"""interleave.py: time commands side by side, one run of each per round.

usage: interleave.py --runs N --warmup W --export-json FILE -n NAME CMD [-n NAME CMD]...

hyperfine runs all of one command's runs, then all of the next's; on a VM
whose speed drifts by 10% over a minute that drift lands in the ratio. Here
every round runs each command once, in an order that rotates from round to
round, so both sides see the same machine. Commands are split like a shell
would split them (no shell runs them) and started with posix_spawn, with
stdin, stdout and stderr on /dev/null. A command that fails stops the run.
The JSON has hyperfine's shape where bench.sh reads it: results[i].median
(seconds), plus the times themselves.
"""
import argparse
import json
import os
import shlex
import statistics
import sys
import time


def run_once(argv, null):
    t0 = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, os.environ,
                          file_actions=[(os.POSIX_SPAWN_DUP2, null, 0),
                                        (os.POSIX_SPAWN_DUP2, null, 1),
                                        (os.POSIX_SPAWN_DUP2, null, 2)])
    _, status = os.waitpid(pid, 0)
    elapsed = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit("interleave: %r exited with %d" % (" ".join(argv), code))
    return elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--export-json", required=True)
    ap.add_argument("-n", nargs=2, action="append", metavar=("NAME", "CMD"), required=True)
    a = ap.parse_args()
    cmds = [(name, shlex.split(cmd)) for name, cmd in a.n]
    times = [[] for _ in cmds]
    null = os.open(os.devnull, os.O_RDWR)
    for rnd in range(a.warmup + a.runs):
        order = list(range(len(cmds)))
        k = rnd % len(cmds)
        order = order[k:] + order[:k]
        for i in order:
            t = run_once(cmds[i][1], null)
            if rnd >= a.warmup:
                times[i].append(t)
    results = [{"command": name, "median": statistics.median(ts), "times": ts}
               for (name, _), ts in zip(cmds, times)]
    with open(a.export_json, "w") as f:
        json.dump({"results": results}, f)


if __name__ == "__main__":
    main()
