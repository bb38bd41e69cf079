#!/usr/bin/env python3
"""The PyTorch side of bench/train/run.sh: the same training step as `rustane bench train`, in
PyTorch CPU fp32 eager mode.

usage: pytorch_train.py [--model models/stories110m.json] [--seq 256] [--steps 5] [--warmup 1]
                        [--threads N] [--json]

The model is built from a rustane model config: Llama (llama2.c: RMSNorm, SwiGLU, interleaved RoPE,
tied embeddings, grouped-query attention) or Qwen3 (plus per-head q/k RMSNorm and rotate-half RoPE).
A step is what rustane's is: batch 1, forward, mean cross-entropy over the full vocabulary,
backward, global-norm clip at 1.0, AdamW (lr 1e-4, betas 0.9/0.95, decay 0.1 on matrices, none on
norms). Weights are N(0, 0.02) like rustane's init; tokens are random. Attention is
F.scaled_dot_product_attention (PyTorch's fastest eager path), norms F.rms_norm.
ms/step is the median over the timed steps; peak RSS is getrusage's ru_maxrss.
"""
import argparse
import json
import math
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        D, H, KVH, hd = c["dim"], c["n_heads"], c["n_kv_heads"], c["head_dim"]
        self.H, self.KVH, self.hd, self.eps = H, KVH, hd, c["norm_eps"]
        self.wq = nn.Linear(D, H * hd, bias=False)
        self.wk = nn.Linear(D, KVH * hd, bias=False)
        self.wv = nn.Linear(D, KVH * hd, bias=False)
        self.wo = nn.Linear(H * hd, D, bias=False)
        self.qk_norm = c["qk_norm"]
        if self.qk_norm:
            self.q_norm = nn.Parameter(torch.ones(hd))
            self.k_norm = nn.Parameter(torch.ones(hd))

    def forward(self, x, cos, sin, interleaved):
        B, S, _ = x.shape
        q = self.wq(x).view(B, S, self.H, self.hd)
        k = self.wk(x).view(B, S, self.KVH, self.hd)
        v = self.wv(x).view(B, S, self.KVH, self.hd)
        if self.qk_norm:
            q = F.rms_norm(q, (self.hd,), self.q_norm, self.eps)
            k = F.rms_norm(k, (self.hd,), self.k_norm, self.eps)
        q, k = rope(q, cos, sin, interleaved), rope(k, cos, sin, interleaved)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)       # [B, heads, S, hd]
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=self.KVH != self.H)
        return self.wo(y.transpose(1, 2).reshape(B, S, self.H * self.hd))


def rope(x, cos, sin, interleaved):
    """Rotary embedding of x [B, S, heads, hd]; cos/sin [S, hd/2]. Interleaved rotates pairs
    (x[2i], x[2i+1]) as llama2.c does; rotate-half rotates (x[i], x[i + hd/2]) as Qwen3 does."""
    cos, sin = cos[None, :, None, :], sin[None, :, None, :]
    if interleaved:
        a, b = x[..., 0::2], x[..., 1::2]
        return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)
    a, b = x.chunk(2, dim=-1)
    return torch.cat((a * cos - b * sin, a * sin + b * cos), dim=-1)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        D, F_ = c["dim"], c["hidden_dim"]
        self.eps = c["norm_eps"]
        self.attn_norm = nn.Parameter(torch.ones(D))
        self.ffn_norm = nn.Parameter(torch.ones(D))
        self.attn = Attention(c)
        self.w1 = nn.Linear(D, F_, bias=False)
        self.w3 = nn.Linear(D, F_, bias=False)
        self.w2 = nn.Linear(F_, D, bias=False)

    def forward(self, x, cos, sin, interleaved):
        D = x.shape[-1]
        x = x + self.attn(F.rms_norm(x, (D,), self.attn_norm, self.eps), cos, sin, interleaved)
        h = F.rms_norm(x, (D,), self.ffn_norm, self.eps)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))


class Model(nn.Module):
    def __init__(self, c, seq):
        super().__init__()
        self.c = c
        self.embed = nn.Embedding(c["vocab_size"], c["dim"])            # tied: also the classifier
        self.layers = nn.ModuleList(Block(c) for _ in range(c["n_layers"]))
        self.norm = nn.Parameter(torch.ones(c["dim"]))
        hd, theta = c["head_dim"], c["rope"]["theta"]
        freqs = 1.0 / theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd)
        angles = torch.outer(torch.arange(seq, dtype=torch.float64), freqs)
        self.register_buffer("cos", angles.cos().float(), persistent=False)
        self.register_buffer("sin", angles.sin().float(), persistent=False)
        self.interleaved = c["rope"]["style"] == "interleaved"
        std_out = 0.02 / math.sqrt(2 * c["n_layers"])
        for name, p in self.named_parameters():
            if p.dim() == 2:
                nn.init.normal_(p, 0.0, std_out if name.endswith(("wo.weight", "w2.weight")) else 0.02)

    def forward(self, tokens, targets):
        x = self.embed(tokens)
        for layer in self.layers:
            x = layer(x, self.cos, self.sin, self.interleaved)
        x = F.rms_norm(x, (self.c["dim"],), self.norm, self.c["norm_eps"])
        logits = x @ self.embed.weight.t()                                # [B, S, V]
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--model", default=os.path.join(here, "..", "..", "models", "stories110m.json"))
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--lockstep", action="store_true",
                    help='wait for a line on stdin before each step, print {"step", "ms"} after it (lockstep.py)')
    a = ap.parse_args()
    with open(a.model) as f:
        c = json.load(f)
    if c["family"] not in ("llama", "qwen3") or not c["tied_embeddings"]:
        sys.exit(f"pytorch_train.py: {a.model}: only tied-embedding llama/qwen3 configs are supported")
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = Model(c, a.seq)
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
    times, losses = [], []
    for step in range(a.warmup + a.steps):
        seqs = torch.randint(0, c["vocab_size"], (1, a.seq + 1))
        if a.lockstep and not sys.stdin.readline():
            sys.exit("pytorch_train.py: --lockstep: stdin closed before the last step")
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = model(seqs[:, :-1], seqs[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        dt = (time.perf_counter() - t0) * 1000
        if a.lockstep:
            print(json.dumps({"step": step + 1, "ms": dt}), flush=True)
        losses.append(loss.item())
        if step >= a.warmup:
            times.append(dt)
    ms = statistics.median(times)
    n = sum(p.numel() for p in model.parameters())
    r = {"model": c["name"], "params": n, "framework": f"pytorch {torch.__version__} eager fp32", "seq": a.seq,
         "threads": torch.get_num_threads(), "steps": a.steps, "warmup": a.warmup,
         "ms_per_step": ms, "ms_per_step_mean": statistics.mean(times), "ms_per_step_min": min(times),
         "tokens_per_s": a.seq / (ms / 1000), "first_loss": losses[0], "last_loss": losses[-1],
         "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "load_after": list(os.getloadavg())}
    if a.json:
        print(json.dumps(r))
    else:
        print(f"pytorch_train.py: {r['model']} ({n / 1e6:.1f}M parameters), seq {a.seq}, batch 1, {r['framework']}, "
              f"{r['threads']} threads\nms/step {ms:.1f} (mean {r['ms_per_step_mean']:.1f}, min {r['ms_per_step_min']:.1f}), "
              f"{r['tokens_per_s']:.1f} tokens/s, loss {losses[0]:.3f} -> {losses[-1]:.3f}, peak RSS {r['peak_rss_mb']:.0f} MiB")


if __name__ == "__main__":
    main()
