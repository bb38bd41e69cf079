"""PyTorch CPU baseline for bench/gpt: the same GPT as rustane's gpt-char-25m (nanoGPT layout:
LayerNorm with bias, GELU tanh, learned positions, biases on every linear, tied classifier),
one optimizer step = forward + backward of a [batch, seq] batch + AdamW (no decay on biases and
LayerNorm weights), fp32. Prints one JSON line with ms/step."""
import argparse, json, math, time
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--config", default="models/gpt-char-25m.json")
p.add_argument("--batch", type=int, default=4)
p.add_argument("--seq", type=int, default=64)
p.add_argument("--steps", type=int, default=10)
p.add_argument("--warmup", type=int, default=2)
p.add_argument("--threads", type=int, default=0)
a = p.parse_args()
if a.threads: torch.set_num_threads(a.threads)
cfg = json.load(open(a.config))
D, H, L, Fh, V, T = cfg["dim"], cfg["n_heads"], cfg["n_layers"], cfg["hidden_dim"], cfg["vocab_size"], cfg["max_seq_len"]

class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(D, eps=cfg["norm_eps"]), nn.LayerNorm(D, eps=cfg["norm_eps"])
        self.c_attn, self.attn_proj = nn.Linear(D, 3 * D), nn.Linear(D, D)
        self.c_fc, self.mlp_proj = nn.Linear(D, Fh), nn.Linear(Fh, D)
    def forward(self, x):
        B, S, _ = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(D, dim=2)
        q, k, v = (t.view(B, S, H, D // H).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.attn_proj(y.transpose(1, 2).reshape(B, S, D))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))

class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, D), nn.Embedding(T, D)
        self.h = nn.ModuleList(Block() for _ in range(L))
        self.ln_f = nn.LayerNorm(D, eps=cfg["norm_eps"])
    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for b in self.h: x = b(x)
        logits = self.ln_f(x) @ self.wte.weight.t()      # tied classifier
        return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))

torch.manual_seed(0)
model = GPT()
for n, t in model.named_parameters():      # rustane's init: N(0, 0.02), residual projections / sqrt(2L), zero biases
    if t.dim() >= 2: nn.init.normal_(t, 0.0, 0.02 / math.sqrt(2 * L) if n.endswith("proj.weight") else 0.02)
    elif n.endswith("bias"): nn.init.zeros_(t)
decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                        lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
data = torch.randint(0, V, (a.batch, a.seq + 1))
times = []
for step in range(a.warmup + a.steps):
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss = model(data[:, :-1], data[:, 1:])
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    if step >= a.warmup: times.append((time.perf_counter() - t0) * 1e3)
times.sort()
print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
                  "params": sum(p.numel() for p in model.parameters()), "batch": a.batch, "seq": a.seq,
                  "ms_per_step_median": times[len(times) // 2], "ms_per_step_min": times[0], "loss": loss.item()}))
