#!/usr/bin/env python3
"""lockstep.py: rustane's training step and PyTorch's, measured step by step in alternation.

    python3 bench/train/lockstep.py [--model stories110m] [--seq 256] [--threads 2] [--rounds 16]
                                    [--warmup 2] [--rustane "./rustane"] [--taskset 2,3]

Both run as their own processes for the whole measurement (`rustane bench train --lockstep` and
pytorch_train.py --lockstep, fp32, the same model shape and thread count), each waiting for a
line on stdin before every step. Round i runs one rustane step and one PyTorch step back to back,
rustane first in even rounds and PyTorch first in odd ones, so the two steps of a round see the
same machine: on a shared machine the speed of both moves by 15-25 % from one minute to the next,
which separate runs (run.sh) cannot tell apart from a difference between the two. Reports each
round's ratio (rustane ms / PyTorch ms) and their median, the target being <= 0.8, and writes
the numbers to build/bench-train/lockstep-<model>-seq<S>-t<T>.json.
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def start(cmd, env=None):
    """A `--lockstep` process (this checkout as its working directory), waiting for its first go."""
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)


def step(proc, name):
    """One step of proc: send the go line, return the ms it reports."""
    proc.stdin.write("go\n")
    proc.stdin.flush()
    line = proc.stdout.readline()
    if not line:
        sys.exit(f"{os.path.basename(sys.argv[0])}: {name} exited before its step (exit status {proc.wait()})")
    return json.loads(line)["ms"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="stories110m", help="a config name in models/")
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=16, help="timed rounds (one step of each per round)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed rounds first")
    ap.add_argument("--rustane", default="node_modules/.bin/bun src/main.ts", help="how to run rustane")
    ap.add_argument("--taskset", default=None, help="CPU list to pin both to, e.g. 2,3")
    a = ap.parse_args()
    config = os.path.join(ROOT, "models", f"{a.model}.json")
    if not os.path.exists(config):
        sys.exit(f"lockstep.py: no model config {config}")
    pin = ["taskset", "-c", a.taskset] if a.taskset else []
    common = ["--seq", str(a.seq), "--threads", str(a.threads), "--steps", str(a.rounds), "--warmup", str(a.warmup), "--lockstep"]
    rustane = start(pin + shlex.split(a.rustane) + ["bench", "train", "--model", a.model, "--numerics", "fp32", "--json"] + common)
    pytorch = start(pin + [sys.executable, os.path.join(HERE, "pytorch_train.py"), "--model", config, "--json"] + common)
    procs = {"rustane": rustane, "pytorch": pytorch}
    times = {"rustane": [], "pytorch": []}
    for i in range(a.warmup + a.rounds):
        order = ["rustane", "pytorch"] if i % 2 == 0 else ["pytorch", "rustane"]
        for name in order:
            ms = step(procs[name], name)
            if i >= a.warmup:
                times[name].append(ms)
    summaries = {name: json.loads(p.stdout.readline()) for name, p in procs.items()}
    for name, p in procs.items():
        if p.wait() != 0:
            sys.exit(f"lockstep.py: {name} exited with status {p.returncode}")

    ratios = [r / p for r, p in zip(times["rustane"], times["pytorch"])]
    med = statistics.median(ratios)
    rs, ps = summaries["rustane"], summaries["pytorch"]
    print(f"{rs['model']} ({rs['params'] / 1e6:.1f}M parameters), seq {a.seq}, batch 1, {a.threads} threads, "
          f"{rs['machine']['cpu']}; {a.rounds} rounds after {a.warmup} warmup, one step of each per round")
    print(f"rustane: {rs['backend']} backend, fp32 numerics; PyTorch: {ps['framework']}")
    print(f"{'round':>5} {'rustane ms':>11} {'PyTorch ms':>11} {'ratio':>6}")
    for i, (r, p, q) in enumerate(zip(times["rustane"], times["pytorch"], ratios), 1):
        print(f"{i:>5} {r:11.1f} {p:11.1f} {q:6.2f}")
    quart = statistics.quantiles(ratios, n=4) if len(ratios) >= 2 else [med, med, med]
    print(f"median ratio {med:.3f} (quartiles {quart[0]:.3f}, {quart[2]:.3f}; min {min(ratios):.3f}, max {max(ratios):.3f}); "
          f"median ms/step rustane {statistics.median(times['rustane']):.1f}, PyTorch {statistics.median(times['pytorch']):.1f}")
    print(f"target rustane fp32 <= 0.8x PyTorch: {'meets' if med <= 0.8 else 'misses'} ({med:.3f}x)")
    out = os.path.join(ROOT, "build", "bench-train")
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, f"lockstep-{a.model}-seq{a.seq}-t{a.threads}.json")
    with open(path, "w") as f:
        json.dump({"rounds": a.rounds, "warmup": a.warmup, "rustane_ms": times["rustane"], "pytorch_ms": times["pytorch"],
                   "ratios": ratios, "median_ratio": med, "rustane": rs, "pytorch": ps}, f, indent=1)
    print(f"numbers in {os.path.relpath(path, ROOT)}")


if __name__ == "__main__":
    main()
