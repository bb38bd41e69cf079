"""PyTorch CPU decode of a llama2.c checkpoint with a KV cache: the baseline for rustane generate.

usage: pytorch_decode.py MODEL.bin PROMPT_IDS(comma-separated) NEW_TOKENS THREADS [ROUNDS] [DTYPE]
Greedy, torch.inference_mode, weights in DTYPE (float32 default, or bfloat16 / float16);
prints one JSON line {tokens_per_s (median of ROUNDS generations), rounds: [tokens/s each],
prefill_ms, tokens}.
"""
import json
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

path, prompt, new_tokens, threads = sys.argv[1], [int(t) for t in sys.argv[2].split(",")], int(sys.argv[3]), int(sys.argv[4])
rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 1
dtype = getattr(torch, sys.argv[6]) if len(sys.argv) > 6 else torch.float32
torch.set_num_threads(threads)
raw = np.fromfile(path, dtype=np.uint8)
dim, hidden, L, H, KVH, V, seq = np.frombuffer(raw[:28].tobytes(), dtype="<i4")
shared = V > 0
V = abs(int(V))
hd = dim // H
data = torch.from_numpy(np.frombuffer(raw[28:].tobytes(), dtype="<f4").copy()).to(dtype)
at = 0


def take(*shape):
    global at
    n = int(np.prod(shape))
    t = data[at:at + n].view(*shape)
    at += n
    return t


tok = take(V, dim); rms_att = take(L, dim); wq = take(L, dim, dim); wk = take(L, KVH * hd, dim); wv = take(L, KVH * hd, dim)
wo = take(L, dim, dim); rms_ffn = take(L, dim); w1 = take(L, hidden, dim); w2 = take(L, dim, hidden); w3 = take(L, hidden, dim)
rms_final = take(dim); take(seq, hd // 2); take(seq, hd // 2)
wcls = tok if shared else take(V, dim)
freqs = 1.0 / (10000.0 ** (torch.arange(0, hd, 2).float() / hd))
ang = torch.outer(torch.arange(seq).float(), freqs)
cos, sin = ang.cos(), ang.sin()
cos, sin = cos.to(dtype), sin.to(dtype)
kc = torch.zeros(L, seq, KVH, hd, dtype=dtype)
vc = torch.zeros(L, seq, KVH, hd, dtype=dtype)


def rmsnorm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w


def rope(x, p0):  # x [S, heads, hd], interleaved pairs
    S = x.shape[0]
    c, s = cos[p0:p0 + S, None, :], sin[p0:p0 + S, None, :]
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack([a * c - b * s, a * s + b * c], -1).flatten(-2)


def forward(tokens, p0):
    S = len(tokens)
    x = tok[torch.tensor(tokens)]
    for l in range(L):
        xn = rmsnorm(x, rms_att[l])
        q = rope(F.linear(xn, wq[l]).view(S, H, hd), p0)
        kc[l, p0:p0 + S] = rope(F.linear(xn, wk[l]).view(S, KVH, hd), p0)
        vc[l, p0:p0 + S] = F.linear(xn, wv[l]).view(S, KVH, hd)
        k = kc[l, :p0 + S].repeat_interleave(H // KVH, 1).transpose(0, 1)
        v = vc[l, :p0 + S].repeat_interleave(H // KVH, 1).transpose(0, 1)
        mask = torch.ones(S, p0 + S, dtype=torch.bool).tril(p0)
        att = F.scaled_dot_product_attention(q.transpose(0, 1), k, v, attn_mask=mask)
        x = x + F.linear(att.transpose(0, 1).reshape(S, dim), wo[l])
        xn = rmsnorm(x, rms_ffn[l])
        x = x + F.linear(F.silu(F.linear(xn, w1[l])) * F.linear(xn, w3[l]), w2[l])
    return F.linear(rmsnorm(x[-1], rms_final), wcls)


with torch.inference_mode():
    forward(prompt, 0)  # warm-up
    speeds = []
    for r in range(rounds):
        t0 = time.perf_counter()
        logits = forward(prompt, 0)
        prefill_ms = (time.perf_counter() - t0) * 1e3
        out = [int(logits.argmax())]
        t0 = time.perf_counter()
        for i in range(new_tokens - 1):
            logits = forward([out[-1]], len(prompt) + i)
            out.append(int(logits.argmax()))
        speeds.append((new_tokens - 1) / (time.perf_counter() - t0))
print(json.dumps({"tokens_per_s": sorted(speeds)[len(speeds) // 2], "rounds": speeds, "prefill_ms": prefill_ms, "tokens": out,
                  "torch": torch.__version__, "threads": threads, "dtype": str(dtype)}))
