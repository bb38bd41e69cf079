// Prefill as compiled kernels (the training forward kernels on the cpu backend, fp32 numerics),
// its keys and values handed to the host decoder's KV cache: the prompt's logits against the
// float64 reference, and the decode steps after it against the host decoder's own prefill.
import { afterAll, describe, expect, test } from "bun:test";
import { openBackend } from "../../src/ffi/index.ts";
import { loadModelConfig } from "../../src/model/config.ts";
import { paramLayout } from "../../src/model/params.ts";
import { openGenerativeModel } from "../../src/generate/model.ts";
import { generate } from "../../src/generate/generate.ts";
import { Sampler } from "../../src/generate/sampler.ts";
import { refForward, refConfigOf } from "../reference/transformer.ts";
import { randomParams, randomWindow, relErr, toFloat64Params } from "../helpers/model.ts";

const backend = openBackend("cpu");
afterAll(() => backend.close());

for (const name of ["tiny", "tiny-qwen3"]) {
  describe(`${name}: prefill on compiled kernels`, () => {
    const config = loadModelConfig(name), layout = paramLayout(config), params = randomParams(layout, 3);
    const w = { config, layout, params };
    const n = 21;                                           // not a multiple of the 32-position window
    const { tokens } = randomWindow(8, config.vocab_size, n + 6);
    const prompt = tokens.subarray(0, n);
    const V = config.vocab_size;

    test("the prompt's last logits equal the float64 reference", () => {
      using m = openGenerativeModel(w, { weights: "fp32", prefill: { backend, numerics: "fp32", chip: "none" } });
      const got = m.prefill(prompt).slice();
      const ref = refForward(refConfigOf(config), toFloat64Params(layout, params), prompt, prompt).logits;
      expect(relErr(got, ref.subarray((n - 1) * V, n * V))).toBeLessThan(1e-5);
    });

    test("decoding after it matches the host decoder's own prefill (the handed-over KV cache is right)", () => {
      using k = openGenerativeModel(w, { weights: "fp32", prefill: { backend, numerics: "fp32", chip: "none" } });
      using h = openGenerativeModel(w, { weights: "fp32" });
      k.prefill(prompt); h.prefill(prompt);
      for (let i = n; i < tokens.length; i++) {
        const a = k.decodeStep(tokens[i], i).slice(), b = h.decodeStep(tokens[i], i);
        expect(relErr(a, b)).toBeLessThan(1e-5);
      }
      const ref = refForward(refConfigOf(config), toFloat64Params(layout, params), tokens, tokens).logits;
      const last = tokens.length - 1;
      expect(relErr(h.decodeStep(tokens[last], last), ref.subarray(last * V, (last + 1) * V))).toBeLessThan(1e-5);
    });

    test("greedy generation gives the same tokens either way", () => {
      using k = openGenerativeModel(w, { weights: "fp32", prefill: { backend, numerics: "fp32", chip: "none" } });
      using h = openGenerativeModel(w, { weights: "fp32" });
      const run = (m: typeof k) => generate(m, prompt, { maxTokens: 12, sampler: new Sampler({ temperature: 0, topK: 0, topP: 1, seed: 0 }), cache: true, eos: null }).tokens;
      expect(run(k)).toEqual(run(h));
    });
  });
}
