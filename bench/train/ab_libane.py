#!/usr/bin/env python3
"""ab_libane.py: two libane builds on rustane's training step, measured step by step in alternation.

    python3 bench/train/ab_libane.py A/libane.so B/libane.so [--model stories110m] [--seq 256]
                                     [--threads 2] [--rounds 20] [--warmup 2]

Like lockstep.py, with rustane on both sides: two `rustane bench train --lockstep` processes from
this checkout (bun src/main.ts, RUSTANE_LIBANE naming each one's library) alternate single steps,
A first in even rounds and B first in odd ones. Reports both medians and the median of the per-round
ratios B/A with its quartiles: how a change to libane moves the step, on a machine whose speed
drifts by more than the change.
"""
import argparse
import os
import statistics
import sys

from lockstep import ROOT, start, step


def start_with(lib, a):
    """rustane bench train --lockstep from this checkout, on the libane at `lib`."""
    env = dict(os.environ, RUSTANE_LIBANE=os.path.abspath(lib))
    cmd = [os.path.join(ROOT, "node_modules", ".bin", "bun"), "src/main.ts", "bench", "train", "--model", a.model,
           "--seq", str(a.seq), "--threads", str(a.threads), "--steps", str(a.rounds), "--warmup", str(a.warmup),
           "--numerics", "fp32", "--lockstep", "--json"]
    return start(cmd, env)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("lib_a")
    ap.add_argument("lib_b")
    ap.add_argument("--model", default="stories110m")
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    a = ap.parse_args()
    for lib in (a.lib_a, a.lib_b):
        if not os.path.exists(lib):
            sys.exit(f"ab_libane.py: no library {lib}")
    procs = [start_with(a.lib_a, a), start_with(a.lib_b, a)]
    names = ["A", "B"]
    for _ in range(a.warmup):
        for i in (0, 1):
            step(procs[i], names[i])
    times = [[], []]
    for r in range(a.rounds):
        for i in ((0, 1) if r % 2 == 0 else (1, 0)):
            times[i].append(step(procs[i], names[i]))
    for p in procs:
        p.stdin.close()
        p.wait()
    ratios = [b / x for x, b in zip(*times)]
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    print(f"A {a.lib_a}: median {statistics.median(times[0]):.1f} ms/step")
    print(f"B {a.lib_b}: median {statistics.median(times[1]):.1f} ms/step")
    print(f"B/A median {statistics.median(ratios):.3f} (quartiles {q[0]:.3f}, {q[2]:.3f}) over {a.rounds} rounds")


if __name__ == "__main__":
    main()
