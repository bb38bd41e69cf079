#!/usr/bin/env python3
"""libane's sgemm (the cpu backend's packed gemm) against PyTorch's own (MKL) on the training step's
products, interleaved round by round in one process so a shared machine's slow phases hit both.

usage: python3 bench/matmul/gemm_vs_torch.py [--rounds 40] [--threads 2] [--lib build/host/libane.so]

Shapes are the Stories110M step's at seq 256, in its operand layouts: forward projections
(activations channel-major, so A is read transposed), weight gradients (B transposed, added into C
as the second micro-batch would, beta = 1), the classifier and its two backward products. Best of
the rounds for each, in GF/s. torch's idle OpenMP threads are told not to spin
(OMP_WAIT_POLICY=PASSIVE) or they take the cores from libane's threads between calls.
"""
import argparse
import ctypes
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import numpy as np  # noqa: E402
import torch  # noqa: E402

SHAPES = [  # name, m, n, k, A transposed, B transposed, beta
    ("fwd 256x768x768", 256, 768, 768, 1, 0, 0), ("fwd 256x2048x768", 256, 2048, 768, 1, 0, 0),
    ("fwd 256x768x2048", 256, 768, 2048, 1, 0, 0), ("dW 768x2048x256", 768, 2048, 256, 0, 1, 1),
    ("dW 2048x768x256", 2048, 768, 256, 0, 1, 1), ("dW 768x768x256", 768, 768, 256, 0, 1, 1),
    ("classifier 32000x256x768", 32000, 256, 768, 0, 0, 0), ("dxf 768x256x32000", 768, 256, 32000, 1, 0, 0),
    ("dEc 32000x768x256", 32000, 768, 256, 0, 1, 1),
]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--lib", default=os.path.join(here, "..", "..", "build", "host", "libane.so"))
    a = ap.parse_args()
    lib = ctypes.CDLL(a.lib)
    u64, f32, P = ctypes.c_uint64, ctypes.c_float, ctypes.POINTER(ctypes.c_float)
    lib.ane_sgemm.argtypes = [ctypes.c_uint32, ctypes.c_uint32, u64, u64, u64, f32, P, u64, P, u64, f32, P, u64]
    lib.ane_sgemm.restype = ctypes.c_int
    if lib.ane_set_threads(a.threads) != 0:
        raise SystemExit("ane_set_threads failed")
    torch.set_num_threads(a.threads)
    print(f"{a.threads} threads, torch {torch.__version__}, best of {a.rounds} rounds (fewer for the classifier)")
    print(f"{'shape (m x n x k)':26} {'libane GF/s':>11} {'torch GF/s':>10} {'libane / torch time':>20}")
    for name, m, n, k, ta, tb, beta in SHAPES:
        rng = np.random.default_rng(1)
        a_np = rng.standard_normal((k, m) if ta else (m, k), dtype=np.float32)
        b_np = rng.standard_normal((n, k) if tb else (k, n), dtype=np.float32)
        c_np, c_t = np.zeros((m, n), np.float32), torch.zeros(m, n)
        A = torch.from_numpy(a_np).t() if ta else torch.from_numpy(a_np)
        B = torch.from_numpy(b_np).t() if tb else torch.from_numpy(b_np)
        ptr = lambda x: x.ctypes.data_as(P)  # noqa: E731
        rounds = max(4, a.rounds // 8) if m * n * k > 1e9 else a.rounds
        ours = theirs = float("inf")
        for _ in range(rounds):
            t0 = time.perf_counter()
            rc = lib.ane_sgemm(ta, tb, m, n, k, 1.0, ptr(a_np), a_np.shape[1], ptr(b_np), b_np.shape[1], float(beta), ptr(c_np), n)
            t1 = time.perf_counter()
            if rc != 0:
                raise SystemExit(f"ane_sgemm failed on {name}")
            if beta:
                c_t.addmm_(A, B)
            else:
                torch.mm(A, B, out=c_t)
            t2 = time.perf_counter()
            ours, theirs = min(ours, t1 - t0), min(theirs, t2 - t1)
        gf = 2 * m * n * k / 1e9
        print(f"{name:26} {gf / ours:11.1f} {gf / theirs:10.1f} {ours / theirs:20.2f}", flush=True)


if __name__ == "__main__":
    main()
