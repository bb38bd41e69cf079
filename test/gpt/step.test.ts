// One GPT training micro-step of rustane's pipeline (device kernels on the cpu backend + host
// ops) against the independent float64 reference (test/reference/gpt.ts), its gradients
// against central finite differences of its own loss, and the kernels against the m4 and m5
// chip rules.
import { afterAll, describe, expect, test } from "bun:test";
import { openBackend } from "../../src/ffi/index.ts";
import { milCheck } from "../../src/ffi/mil.ts";
import { loadModelConfig, type ModelConfig } from "../../src/model/config.ts";
import { paramLayout, view } from "../../src/model/params.ts";
import { buildGptKernels, GPT_KERNEL_NAMES } from "../../src/kernels/gpt.ts";
import { GptPipeline } from "../../src/train/gpt-pipeline.ts";
import { checkOverwriteThenAdd, lcg, randomParams, randomWindow, relErr, toFloat64Params } from "../helpers/model.ts";
import { gptRefBackward, gptRefForward, type GptRefConfig } from "../reference/gpt.ts";

const backend = openBackend("cpu");
afterAll(() => backend.close());
const S = 32;

function refConfig(c: ModelConfig): GptRefConfig {
  return { dim: c.dim, n_layers: c.n_layers, n_heads: c.n_heads, hidden_dim: c.hidden_dim, vocab_size: c.vocab_size,
    max_seq_len: c.max_seq_len, norm_eps: c.norm_eps, tied_embeddings: c.tied_embeddings };
}

const untied = (): ModelConfig => ({ ...loadModelConfig("tiny-gpt"), name: "tiny-gpt-untied", tied_embeddings: false });

for (const [label, cfg] of [["tiny-gpt (tied)", () => loadModelConfig("tiny-gpt")], ["tiny-gpt (untied)", untied]] as const) {
  describe(`${label}: one training step on the cpu backend`, () => {
    const c = cfg(), layout = paramLayout(c);
    const params = randomParams(layout, 11, 0.3);
    const { tokens, targets } = randomWindow(5, c.vocab_size, S);
    // One pipeline for both tests: the cpu backend, like the ANE, allows 119 compiles per process.
    const pipe = new GptPipeline(backend, c, layout, { seq: S, numerics: "fp32", chip: "none", vocabIds: null });
    afterAll(() => pipe.close());

    test("fp32: loss and every gradient match the float64 reference", () => {
      pipe.stageWeights(params);
      const grads = new Float32Array(layout.total);
      const loss = pipe.forwardBackward(params, grads, tokens, targets, 1, 1);
      const rc = refConfig(c), rp = toFloat64Params(layout, params);
      const fw = gptRefForward(rc, rp, tokens, targets), rg = gptRefBackward(rc, rp, tokens, targets, fw);
      expect(Math.abs(loss - fw.loss)).toBeLessThan(1e-5 * fw.loss);
      for (const t of layout.tensors) {
        const e = relErr(view(layout, grads, t.name), rg.get(t.name)!);
        if (e > 2e-4) throw new Error(`gradient of ${t.name}: relative error ${e.toExponential(2)}`);
      }
    });

    test("overwrite mode: over a NaN-filled arena the first micro-batch writes every gradient, the second adds", () => {
      pipe.stageWeights(params);
      const rc = refConfig(c), rp = toFloat64Params(layout, params);
      checkOverwriteThenAdd(layout, [{ tokens, targets }, randomWindow(6, c.vocab_size, S)],
        (g, w, overwrite) => pipe.forwardBackward(params, g, w.tokens, w.targets, 1, 2, overwrite),
        (w) => gptRefBackward(rc, rp, w.tokens, w.targets, gptRefForward(rc, rp, w.tokens, w.targets)));
    });

    test("fp32: gradients match central finite differences of rustane's own loss, every parameter group", () => {
      const p = params.slice();
      pipe.stageWeights(p);
      const grads = new Float32Array(layout.total);
      pipe.forwardBackward(p, grads, tokens, targets, 1, 1);
      const r = lcg(3);
      for (const t of layout.tensors) {
        for (let k = 0; k < 2; k++) {
          // wpe rows past S never see a gradient: probe the rows in use
          const span = t.name === "transformer.wpe.weight" ? S * c.dim : t.size;
          const i = t.offset + Math.floor(r() * span), keep = p[i], h = 1e-2;
          p[i] = keep + h; pipe.stageWeights(p); const up = pipe.loss(p, tokens, targets);
          p[i] = keep - h; pipe.stageWeights(p); const down = pipe.loss(p, tokens, targets);
          p[i] = keep;
          const fd = (up - down) / (2 * h);
          if (Math.abs(fd - grads[i]) > 2e-4 + 2e-2 * Math.abs(fd))
            throw new Error(`${t.name}[${i - t.offset}]: finite difference ${fd} vs gradient ${grads[i]}`);
        }
      }
    });
  });
}

describe("gpt kernels under the chip rules", () => {
  for (const name of ["tiny-gpt", "gpt-char-25m"]) {
    test(`${name}: every kernel passes ane_mil_check for m4 and m5 with no findings (fp16, seq 64)`, () => {
      const c = loadModelConfig(name), ks = buildGptKernels(c, { seq: 64, dtype: "fp16" });
      for (const n of GPT_KERNEL_NAMES)
        for (const chip of ["m4", "m5"]) {
          const r = milCheck(ks[n].text, { weights: ks[n].weights, chip });
          if (!r.ok || r.findings.length) throw new Error(`${name} ${n} on ${chip}: ${JSON.stringify(r.findings)}`);
        }
    });
  }

  test("the exact gelu op would be flagged (the check can fail)", () => {
    const c = loadModelConfig("tiny-gpt"), k = buildGptKernels(c, { seq: 64, dtype: "fp16" }).ffn_fwd;
    const text = k.text.replace(/= tanh\(x = ([^)]*)\)/, "= gelu(x = $1)");
    expect(text).not.toBe(k.text);
    expect(milCheck(text, { weights: k.weights, chip: "m4" }).findings.length).toBeGreaterThan(0);
  });
});
