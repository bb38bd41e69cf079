#!/usr/bin/env python3
"""PyTorch side of test/parity/torch.test.ts: one forward + backward of a Hugging Face model.

usage: torch_step.py DIR [DIR ...]

Each DIR holds what the bun test wrote:
  config.json        a Hugging Face config (LlamaForCausalLM or Qwen3ForCausalLM) made from a rustane model config
  model.safetensors  rustane's random weights, under rustane's (= Hugging Face's) tensor names
  step.json          {"tokens": [...], "targets": [...], "interleaved_rope": bool}
and gets back
  torch.safetensors  "logits" [S, V], "loss" [1], and "grad/<name>" for every tensor of model.safetensors

The model is loaded with from_pretrained(DIR), so this also proves rustane's checkpoints load in
transformers. Llama models of the llama2.c family rotate interleaved pairs (x[2i], x[2i+1]) while
transformers' Llama rotates halves (x[i], x[i + hd/2]); the two are the same model once the rows of
q_proj and k_proj are permuted within each head the way llama2.c's export.py does, so for
interleaved_rope we permute those weights after loading and un-permute their gradients.

Exit status 3 (with one line on stderr) when torch, transformers or safetensors is missing.
"""
import json
import os
import sys

try:
    import torch
    import torch.nn.functional as F
    import transformers
    from safetensors.torch import load_file, save_file
except ImportError as e:  # the bun test turns this into a skip, or a failure under CI=true
    print(f"torch_step.py: {e.name} is not installed ({e})", file=sys.stderr)
    sys.exit(3)


def to_rotate_half(w, heads):
    """Rows of a q/k projection [heads*hd, dim] from interleaved-pair order to rotate-half order:
    within each head, row 2i goes to i and row 2i+1 to i + hd/2 (llama2.c export.py's permute)."""
    rows, cols = w.shape
    return w.view(heads, rows // heads // 2, 2, cols).transpose(1, 2).reshape(rows, cols)


def to_interleaved(w, heads):
    """The inverse of to_rotate_half."""
    rows, cols = w.shape
    return w.view(heads, 2, rows // heads // 2, cols).transpose(1, 2).reshape(rows, cols)


def run(d):
    with open(os.path.join(d, "step.json")) as f:
        step = json.load(f)
    model, info = transformers.AutoModelForCausalLM.from_pretrained(
        d, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    # A tied lm_head never appears in the file; anything else missing or unused is a naming bug.
    problems = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    problems.get("missing_keys", set()).discard("lm_head.weight")
    if any(problems.values()):
        raise SystemExit(f"torch_step.py: {d}: loading rustane's checkpoint in transformers: {problems}")
    model.train()                      # no dropout in these models; train() only matters for clarity
    cfg = model.config
    named = dict(model.named_parameters())
    permuted = []
    if step["interleaved_rope"]:
        with torch.no_grad():
            for name, p in named.items():
                if name.endswith("self_attn.q_proj.weight"):
                    p.copy_(to_rotate_half(p.detach().clone(), cfg.num_attention_heads)); permuted.append((name, cfg.num_attention_heads))
                elif name.endswith("self_attn.k_proj.weight"):
                    p.copy_(to_rotate_half(p.detach().clone(), cfg.num_key_value_heads)); permuted.append((name, cfg.num_key_value_heads))

    tokens = torch.tensor(step["tokens"], dtype=torch.long)[None]      # [1, S]
    targets = torch.tensor(step["targets"], dtype=torch.long)          # [S]
    logits = model(input_ids=tokens).logits[0]                         # [S, V]
    loss = F.cross_entropy(logits, targets)                            # mean over the S positions
    loss.backward()

    out = {"logits": logits.detach().contiguous(), "loss": loss.detach().reshape(1)}
    heads = dict(permuted)
    for name in load_file(os.path.join(d, "model.safetensors")):
        g = named[name].grad             # tied: embed_tokens' grad holds the lm_head's part too
        if g is None:
            raise SystemExit(f"torch_step.py: {d}: no gradient for {name}")
        out["grad/" + name] = (to_interleaved(g, heads[name]) if name in heads else g).contiguous()
    save_file(out, os.path.join(d, "torch.safetensors"))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    torch.manual_seed(0)
    torch.set_num_threads(1)           # determinism; these models are tiny
    for d in sys.argv[1:]:
        run(d)
