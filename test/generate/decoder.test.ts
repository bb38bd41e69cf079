// libane's decoder (the generator's models: llama, qwen3, gpt) against the independent float64
// references (test/reference/transformer.ts, test/reference/gpt.ts), with fp32 weights and with
// fp16 weights (then the reference gets the same matrices rounded to fp16 by Math.f16round, an
// independent rounding), and cached vs uncached generation (greedy and seeded sampling).
import { describe, expect, test } from "bun:test";
import { loadModelConfig, type ModelConfig } from "../../src/model/config.ts";
import { paramLayout, type ParamLayout } from "../../src/model/params.ts";
import { openGenerativeModel } from "../../src/generate/model.ts";
import { generate } from "../../src/generate/generate.ts";
import { Sampler } from "../../src/generate/sampler.ts";
import type { WeightStorage } from "../../src/ffi/decode-ops.ts";
import { refForward, refConfigOf } from "../reference/transformer.ts";
import { gptRefForward } from "../reference/gpt.ts";
import { lcg, randomParams, toFloat64Params } from "../helpers/model.ts";

/** The float64 reference's logits [S, V] for weights as the decoder stores them: with fp16
 *  storage every matrix (2-D tensor) is rounded to fp16; norms and biases stay as they are. */
function referenceLogits(c: ModelConfig, layout: ParamLayout, params: Float32Array, tokens: Int32Array, weights: WeightStorage): Float64Array {
  const p = toFloat64Params(layout, params);
  if (weights === "fp16")
    for (const t of layout.tensors) if (t.shape.length === 2) p.set(t.name, p.get(t.name)!.map((x) => Math.f16round(x)));
  return c.family === "gpt" ? gptRefForward({ ...c }, p, tokens, tokens).logits : refForward(refConfigOf(c), p, tokens, tokens).logits;
}

function maxErr(got: Float32Array, want: Float64Array): { err: number; scale: number } {
  let err = 0, scale = 0;
  for (let i = 0; i < want.length; i++) { err = Math.max(err, Math.abs(got[i] - want[i])); scale = Math.max(scale, Math.abs(want[i])); }
  return { err, scale };
}

const variants: Array<[string, (c: ModelConfig) => ModelConfig]> = [
  ["tiny", (c) => c],
  ["tiny-qwen3", (c) => c],
  ["tiny, separate classifier, GQA", (c) => ({ ...c, tied_embeddings: false, n_kv_heads: c.n_heads / 2 })],
  ["tiny-gpt", (c) => c],
  ["tiny-gpt, separate classifier", (c) => ({ ...c, tied_embeddings: false })],
];

for (const [label, tweak] of variants) for (const weights of ["fp32", "fp16"] as const) {
  const base = label.split(",")[0];
  describe(`${label}, ${weights} weights: generator`, () => {
    const c = tweak(loadModelConfig(base)), layout = paramLayout(c), params = randomParams(layout, 21);
    const r = lcg(4), S = 24;
    const tokens = Int32Array.from({ length: S }, () => Math.floor(r() * c.vocab_size));
    const V = c.vocab_size;

    test("prefill logits of every prefix equal the float64 reference's", () => {
      const want = referenceLogits(c, layout, params, tokens, weights);
      using m = openGenerativeModel({ config: c, layout, params }, { weights });
      expect(m.weights).toBe(weights);
      for (const n of [1, 2, 5, S]) {
        const { err, scale } = maxErr(m.prefill(tokens.subarray(0, n)), want.subarray((n - 1) * V, n * V));
        if (err > 2e-5 * scale + 1e-6) throw new Error(`prefix of ${n}: max |logit error| ${err} (max |logit| ${scale})`);
      }
    });

    test("decode steps after a prefill give the reference's logits at every position", () => {
      const want = referenceLogits(c, layout, params, tokens, weights);
      using m = openGenerativeModel({ config: c, layout, params }, { weights });
      m.prefill(tokens.subarray(0, 3));
      for (let pos = 3; pos < S; pos++) {
        const { err, scale } = maxErr(m.decodeStep(tokens[pos], pos), want.subarray(pos * V, (pos + 1) * V));
        if (err > 2e-5 * scale + 1e-6) throw new Error(`position ${pos}: max |logit error| ${err} (max |logit| ${scale})`);
      }
    });

    if (weights === "fp16") test("fp16 storage is not fp32: its logits differ from the unrounded reference", () => {
      const exact = referenceLogits(c, layout, params, tokens, "fp32");
      using m = openGenerativeModel({ config: c, layout, params }, { weights });
      const { err, scale } = maxErr(m.prefill(tokens), exact.subarray((S - 1) * V, S * V));
      expect(err).toBeGreaterThan(2e-5 * scale + 1e-6);
    });

    test("cached decode steps give bit-identical logits to uncached prefills", () => {
      using m = openGenerativeModel({ config: c, layout, params }, { weights });
      const cached: Float32Array[] = [];
      m.prefill(tokens.subarray(0, 1));
      for (let pos = 1; pos < S; pos++) cached.push(m.decodeStep(tokens[pos], pos).slice());
      for (let pos = 1; pos < S; pos++) expect(m.prefill(tokens.subarray(0, pos + 1))).toEqual(cached[pos - 1]);
    });

    for (const mode of ["greedy", "seeded sampling"] as const) {
      test(`cached and uncached generation give identical tokens (${mode})`, () => {
        using m = openGenerativeModel({ config: c, layout, params }, { maxSeq: 64, weights });
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

  test("fp16 storage refuses a matrix value fp16 cannot hold, naming the remedy", () => {
    const g = loadModelConfig("tiny-gpt"), gl = paramLayout(g), gp = randomParams(gl, 2);
    gp[gl.byName.get("transformer.h.1.mlp.c_fc.weight")!.offset + 5] = 70000;
    expect(() => openGenerativeModel({ config: g, layout: gl, params: gp }, { weights: "fp16" })).toThrow(/holds 70000 at element 5, which fp16 cannot store.*use fp32 weights/);
    openGenerativeModel({ config: g, layout: gl, params: gp }, { weights: "fp32" }).close();
  });

  test("a GPT cache longer than the model's learned positions is refused", () => {
    const g = loadModelConfig("tiny-gpt"), gl = paramLayout(g), gp = randomParams(gl, 2);
    expect(() => openGenerativeModel({ config: g, layout: gl, params: gp }, { maxSeq: g.max_seq_len + 1 })).toThrow(/cache length 65 must be in \[1, 64\]/);
  });
});
