"""Independent writer and forward for llama2.c's legacy (version 0) checkpoint format.

usage: llama2c_writer.py OUT.bin SHARED(0|1) SEED
Writes a tiny model with random weights the way llama2.c's export.py (legacy_export) does, then
prints JSON {"config": ..., "tokens": [...], "logits": [[...] per position]}: the logits of a
float64 numpy forward written from llama2.c's run.c (interleaved RoPE pairs (2i, 2i+1),
freq = 10000^(-i/head_size) for even i, RMSNorm eps 1e-5, SwiGLU w2(silu(w1 x) * w3 x)).
"""
import json
import struct
import sys

import numpy as np

out, shared, seed = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3])
dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len = 48, 96, 2, 4, 2, 61, 32
hs = dim // n_heads
kv_dim = n_kv_heads * hs
rng = np.random.default_rng(seed)


def rand(*shape, scale=0.3):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


w = {
    "tok": rand(vocab, dim, scale=1.0),
    "rms_att": (1 + 0.2 * rng.standard_normal((n_layers, dim))).astype(np.float32),
    "wq": rand(n_layers, dim, dim), "wk": rand(n_layers, kv_dim, dim), "wv": rand(n_layers, kv_dim, dim),
    "wo": rand(n_layers, dim, dim),
    "rms_ffn": (1 + 0.2 * rng.standard_normal((n_layers, dim))).astype(np.float32),
    "w1": rand(n_layers, hidden, dim), "w2": rand(n_layers, dim, hidden), "w3": rand(n_layers, hidden, dim),
    "rms_final": (1 + 0.2 * rng.standard_normal(dim)).astype(np.float32),
}
w["wcls"] = w["tok"] if shared else rand(vocab, dim)
# Like export.py: freqs_cos / freqs_sin [seq_len, hs/2] after the weights.
freqs = 1.0 / (10000.0 ** (np.arange(0, hs, 2)[: hs // 2] / hs))
angles = np.outer(np.arange(seq_len), freqs)
with open(out, "wb") as f:
    f.write(struct.pack("7i", dim, hidden, n_layers, n_heads, n_kv_heads, vocab if shared else -vocab, seq_len))
    for k in ["tok", "rms_att", "wq", "wk", "wv", "wo", "rms_ffn", "w1", "w2", "w3", "rms_final"]:
        f.write(w[k].astype("<f4").tobytes())
    f.write(np.cos(angles).astype("<f4").tobytes())
    f.write(np.sin(angles).astype("<f4").tobytes())
    if not shared:
        f.write(w["wcls"].astype("<f4").tobytes())

W = {k: v.astype(np.float64) for k, v in w.items()}


def rmsnorm(x, g):
    return x / np.sqrt(np.mean(x * x) + 1e-5) * g


def rope(v, pos):
    v = v.copy()
    for i in range(0, v.shape[0], 2):
        hd = i % hs
        ang = pos * (10000.0 ** (-hd / hs))
        c, s = np.cos(ang), np.sin(ang)
        a, b = v[i], v[i + 1]
        v[i], v[i + 1] = a * c - b * s, a * s + b * c
    return v


tokens = [int(t) for t in rng.integers(0, vocab, 12)]
kc = np.zeros((n_layers, seq_len, kv_dim))
vc = np.zeros((n_layers, seq_len, kv_dim))
logits = []
for pos, tok in enumerate(tokens):  # run.c's forward, one position at a time with its KV cache
    x = W["tok"][tok].copy()
    for l in range(n_layers):
        xb = rmsnorm(x, W["rms_att"][l])
        q = rope(W["wq"][l] @ xb, pos)
        kc[l, pos] = rope(W["wk"][l] @ xb, pos)
        vc[l, pos] = W["wv"][l] @ xb
        att = np.zeros(dim)
        for h in range(n_heads):
            kvh = h // (n_heads // n_kv_heads)
            qh = q[h * hs:(h + 1) * hs]
            sc = np.array([qh @ kc[l, t, kvh * hs:(kvh + 1) * hs] for t in range(pos + 1)]) / np.sqrt(hs)
            p = np.exp(sc - sc.max())
            p /= p.sum()
            att[h * hs:(h + 1) * hs] = sum(p[t] * vc[l, t, kvh * hs:(kvh + 1) * hs] for t in range(pos + 1))
        x = x + W["wo"][l] @ att
        xb = rmsnorm(x, W["rms_ffn"][l])
        h1 = W["w1"][l] @ xb
        x = x + W["w2"][l] @ (h1 / (1 + np.exp(-h1)) * (W["w3"][l] @ xb))
    logits.append((W["wcls"] @ rmsnorm(x, W["rms_final"])).tolist())

print(json.dumps({"config": {"dim": dim, "hidden_dim": hidden, "n_layers": n_layers, "n_heads": n_heads,
                             "n_kv_heads": n_kv_heads, "vocab_size": vocab, "seq_len": seq_len},
                  "tokens": tokens, "logits": logits}))
