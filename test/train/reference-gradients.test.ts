// The float64 reference transformer's analytic backward against central finite differences,
// so the reference that rustane's training step is checked against is itself checked.
import { describe, expect, test } from "bun:test";
import { refBackward, refForward, refLoss, refParamShapes, type RefConfig, type RefParams } from "../reference/transformer.ts";

function rng(seed: number) {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

function randomParams(c: RefConfig, seed: number): RefParams {
  const r = rng(seed), P: RefParams = new Map();
  for (const [name, shape] of refParamShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1), t = new Float64Array(n);
    const isNorm = shape.length === 1;
    for (let i = 0; i < n; i++) t[i] = isNorm ? 1 + 0.2 * (r() - 0.5) : 0.4 * (r() - 0.5);
    P.set(name, t);
  }
  return P;
}

const base: RefConfig = {
  family: "llama", dim: 8, n_layers: 2, n_heads: 4, n_kv_heads: 2, head_dim: 4, hidden_dim: 12,
  vocab_size: 11, norm_eps: 1e-5, rope: { theta: 10000, style: "interleaved" }, qk_norm: false, tied_embeddings: true,
};
const configs: Record<string, RefConfig> = {
  "llama (GQA, interleaved RoPE, tied)": base,
  "llama with activation clipping (part of the residual stream clipped)": { ...base, act_clip: 0.4 },
  "qwen3 (GQA, q/k norm, rotate-half, untied)": { ...base, family: "qwen3", qk_norm: true, rope: { theta: 1e6, style: "rotate_half" }, tied_embeddings: false },
};

describe("float64 reference transformer: backward vs finite differences", () => {
  for (const [label, c] of Object.entries(configs)) {
    test(label, () => {
      const P = randomParams(c, 7), tokens = [1, 5, 3, 9, 2, 7], targets = [5, 3, 9, 2, 7, 4];
      const fw = refForward(c, P, tokens, targets), G = refBackward(c, P, tokens, targets, fw);
      if (c.act_clip) expect(fw.xFinal.some((x) => Math.abs(x) >= c.act_clip!)).toBe(true);   // the clip is active
      const r = rng(99);
      for (const [name] of refParamShapes(c)) {
        const t = P.get(name)!, g = G.get(name)!;
        for (let probe = 0; probe < 3; probe++) {
          const i = Math.floor(r() * t.length), h = 1e-5, keep = t[i];
          t[i] = keep + h; const up = refLoss(c, P, tokens, targets);
          t[i] = keep - h; const down = refLoss(c, P, tokens, targets);
          t[i] = keep;
          const fd = (up - down) / (2 * h);
          expect(Math.abs(fd - g[i])).toBeLessThan(1e-7 + 1e-5 * Math.abs(fd));
        }
      }
    });
  }
});
