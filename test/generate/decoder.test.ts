// libane's decoder (the generator's Llama/Qwen3 model) against the independent float64 reference
// (test/reference/transformer.ts), and cached vs uncached generation (greedy and seeded sampling).
import { describe, expect, test } from "bun:test";
import { loadModelConfig, type ModelConfig } from "../../src/model/config.ts";
import { paramLayout, view, type ParamLayout } from "../../src/model/params.ts";
import { openGenerativeModel } from "../../src/generate/model.ts";
import { generate } from "../../src/generate/generate.ts";
import { Sampler } from "../../src/generate/sampler.ts";
import { refForward, type RefConfig, type RefParams } from "../reference/transformer.ts";

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

function randomParams(layout: ParamLayout, seed: number): Float32Array {
  const r = lcg(seed), p = new Float32Array(layout.total);
  for (const t of layout.tensors)
    for (let i = 0; i < t.size; i++) p[t.offset + i] = t.init === "ones" ? 0.8 + 0.4 * r() : 0.5 * (r() - 0.5);
  return p;
}

function refConfig(c: ModelConfig): RefConfig {
  return { family: c.family as "llama" | "qwen3", dim: c.dim, n_layers: c.n_layers, n_heads: c.n_heads, n_kv_heads: c.n_kv_heads,
    head_dim: c.head_dim, hidden_dim: c.hidden_dim, vocab_size: c.vocab_size, norm_eps: c.norm_eps,
    rope: c.rope!, qk_norm: c.qk_norm, tied_embeddings: c.tied_embeddings };
}

function toRef(layout: ParamLayout, p: Float32Array): RefParams {
  const m: RefParams = new Map();
  for (const t of layout.tensors) m.set(t.name, Float64Array.from(view(layout, p, t.name)));
  return m;
}

const variants: Array<[string, (c: ModelConfig) => ModelConfig]> = [
  ["tiny", (c) => c],
  ["tiny-qwen3", (c) => c],
  ["tiny, separate classifier, GQA", (c) => ({ ...c, tied_embeddings: false, n_kv_heads: c.n_heads / 2 })],
];

for (const [label, tweak] of variants) {
  const base = label.split(",")[0];
  describe(`${label}: generator`, () => {
    const c = tweak(loadModelConfig(base)), layout = paramLayout(c), params = randomParams(layout, 21);
    const r = lcg(4), S = 24;
    const tokens = Int32Array.from({ length: S }, () => Math.floor(r() * c.vocab_size));

    test("prefill logits of every prefix equal the float64 reference's", () => {
      const fw = refForward(refConfig(c), toRef(layout, params), tokens, tokens);
      using m = openGenerativeModel({ config: c, layout, params });
      for (const n of [1, 2, 5, S]) {
        const got = m.prefill(tokens.subarray(0, n));
        const want = fw.logits.subarray((n - 1) * c.vocab_size, n * c.vocab_size);
        let err = 0, scale = 0;
        for (let i = 0; i < c.vocab_size; i++) { err = Math.max(err, Math.abs(got[i] - want[i])); scale = Math.max(scale, Math.abs(want[i])); }
        if (err > 2e-5 * scale + 1e-6) throw new Error(`prefix of ${n}: max |logit error| ${err} (max |logit| ${scale})`);
      }
    });

    test("decode steps after a prefill give the reference's logits at every position", () => {
      const fw = refForward(refConfig(c), toRef(layout, params), tokens, tokens);
      using m = openGenerativeModel({ config: c, layout, params });
      m.prefill(tokens.subarray(0, 3));
      for (let pos = 3; pos < S; pos++) {
        const got = m.decodeStep(tokens[pos], pos);
        const want = fw.logits.subarray(pos * c.vocab_size, (pos + 1) * c.vocab_size);
        let err = 0, scale = 0;
        for (let i = 0; i < c.vocab_size; i++) { err = Math.max(err, Math.abs(got[i] - want[i])); scale = Math.max(scale, Math.abs(want[i])); }
        if (err > 2e-5 * scale + 1e-6) throw new Error(`position ${pos}: max |logit error| ${err}`);
      }
    });

    for (const mode of ["greedy", "seeded sampling"] as const) {
      test(`cached and uncached generation give identical tokens (${mode})`, () => {
        using m = openGenerativeModel({ config: c, layout, params }, { maxSeq: 64 });
        const run = (cache: boolean) => {
          const sampler = new Sampler(mode === "greedy" ? { temperature: 0, topK: 0, topP: 1, seed: 0 }
            : { temperature: 1.0, topK: 20, topP: 0.95, seed: 1234 });
          return generate(m, tokens.subarray(0, 4), { maxTokens: 40, sampler, cache, eos: null }).tokens;
        };
        const cached = run(true), uncached = run(false);
        expect(cached.length).toBe(40);
        expect(uncached).toEqual(cached);
        // Not a degenerate run: the tokens vary.
        expect(new Set(cached).size).toBeGreaterThan(3);
      });
    }
  });
}

describe("decoder errors", () => {
  const c = loadModelConfig("tiny"), layout = paramLayout(c), params = randomParams(layout, 1);
  test("a token outside the vocabulary, a position past the cache, a full context", () => {
    using m = openGenerativeModel({ config: c, layout, params }, { maxSeq: 8 });
    expect(() => m.prefill(Int32Array.of(1, c.vocab_size))).toThrow(/token 256 at index 1 is outside the vocabulary/);
    m.prefill(Int32Array.of(1, 2));
    expect(() => m.decodeStep(3, 5)).toThrow(/position 5 is past the 2 cached positions/);
    expect(() => m.prefill(new Int32Array(9))).toThrow(/exceed the context of 8 positions/);
  });
});
