// One full training micro-step of rustane's pipeline (device kernels on the cpu backend + host
// ops) against the independent float64 reference (test/reference/transformer.ts), and its
// gradients against finite differences of its own loss; then the fp16 (ANE) numerics: tiny
// gradients vanish without loss scaling and survive with it.
import { afterAll, describe, expect, test } from "bun:test";
import { openBackend } from "../../src/ffi/index.ts";
import { loadModelConfig, type ModelConfig } from "../../src/model/config.ts";
import { paramLayout, view } from "../../src/model/params.ts";
import { TransformerPipeline } from "../../src/train/pipeline.ts";
import { initParams } from "../../src/train/trainer.ts";
import { refBackward, refForward, refConfigOf } from "../reference/transformer.ts";
import { checkOverwriteThenAdd, lcg, randomParams, randomWindow, relErr, toFloat64Params } from "../helpers/model.ts";

const backend = openBackend("cpu");
afterAll(() => backend.close());
const S = 32;

// tiny and tiny-qwen3 group two query heads per kv head; the third config gives each query head
// its own (Stories110M's layout), which the attention kernels build differently.
const tiny = loadModelConfig("tiny");
const CONFIGS: ModelConfig[] = [tiny, loadModelConfig("tiny-qwen3"), { ...tiny, name: "tiny-mha", n_kv_heads: tiny.n_heads }];

for (const c of CONFIGS) {
  describe(`${c.name}: one training step on the cpu backend`, () => {
    const layout = paramLayout(c);
    const params = randomParams(layout, 11);
    const { tokens, targets } = randomWindow(5, c.vocab_size, S);

    test("fp32: loss and every gradient match the float64 reference", () => {
      using pipe = new TransformerPipeline(backend, c, layout, { seq: S, numerics: "fp32", chip: "none", vocabIds: null });
      pipe.stageWeights(params);
      const grads = new Float32Array(layout.total);
      const loss = pipe.forwardBackward(params, grads, tokens, targets, 1, 1);
      const rc = refConfigOf(c), rp = toFloat64Params(layout, params);
      const fw = refForward(rc, rp, tokens, targets), rg = refBackward(rc, rp, tokens, targets, fw);
      expect(Math.abs(loss - fw.loss)).toBeLessThan(1e-5 * fw.loss);
      for (const t of layout.tensors) {
        const e = relErr(view(layout, grads, t.name), rg.get(t.name)!);
        if (e > 2e-4) throw new Error(`gradient of ${t.name}: relative error ${e.toExponential(2)}`);
      }
    });

    test("fp32: gradients match central finite differences of rustane's own loss", () => {
      using pipe = new TransformerPipeline(backend, c, layout, { seq: S, numerics: "fp32", chip: "none", vocabIds: null });
      const p = params.slice();
      pipe.stageWeights(p);
      const grads = new Float32Array(layout.total);
      pipe.forwardBackward(p, grads, tokens, targets, 1, 1);
      const r = lcg(3);
      for (const t of layout.tensors) {       // every parameter group, two entries each
        for (let k = 0; k < 2; k++) {
          const i = t.offset + Math.floor(r() * t.size), keep = p[i], h = 1e-2;
          p[i] = keep + h; pipe.stageWeights(p); const up = pipe.loss(p, tokens, targets);
          p[i] = keep - h; pipe.stageWeights(p); const down = pipe.loss(p, tokens, targets);
          p[i] = keep;
          const fd = (up - down) / (2 * h);
          if (Math.abs(fd - grads[i]) > 2e-4 + 2e-2 * Math.abs(fd))
            throw new Error(`${t.name}[${i - t.offset}]: finite difference ${fd} vs gradient ${grads[i]}`);
        }
      }
      pipe.stageWeights(p);
    });

    test("overwrite mode: over a NaN-filled arena the first micro-batch writes every gradient, the second adds", () => {
      using pipe = new TransformerPipeline(backend, c, layout, { seq: S, numerics: "fp32", chip: "none", vocabIds: null });
      pipe.stageWeights(params);
      const rc = refConfigOf(c), rp = toFloat64Params(layout, params);
      checkOverwriteThenAdd(layout, [{ tokens, targets }, randomWindow(6, c.vocab_size, S)],
        (g, w, overwrite) => pipe.forwardBackward(params, g, w.tokens, w.targets, 1, 2, overwrite),
        (w) => refBackward(rc, rp, w.tokens, w.targets, refForward(rc, rp, w.tokens, w.targets)));
    });

    test("overwrite mode with vocabulary compaction gives the gradients of adding into zeros", () => {
      const ids = Int32Array.from(new Set([...tokens, ...targets, 0, 1, 2])).sort();
      const compact = new Int32Array(c.vocab_size).fill(-1);
      ids.forEach((id, i) => { compact[id] = i; });
      const kept = targets.map((t) => compact[t]);
      using pipe = new TransformerPipeline(backend, c, layout, { seq: S, numerics: "fp32", chip: "none", vocabIds: ids });
      pipe.stageWeights(params);
      const added = new Float32Array(layout.total), written = new Float32Array(layout.total).fill(NaN);
      pipe.forwardBackward(params, added, tokens, kept, 1, 1);
      pipe.forwardBackward(params, written, tokens, kept, 1, 1, true);
      let worst = 0;
      for (let i = 0; i < added.length; i++) worst = Math.max(worst, Math.abs(added[i] - written[i]) || (added[i] === written[i] ? 0 : Infinity));
      expect(worst).toBe(0);
    });

    test("vocabulary compaction: the loss is the cross-entropy over the kept ids", () => {
      const ids = Int32Array.from(new Set([...tokens, ...targets, 0, 1, 2])).sort();
      using pipe = new TransformerPipeline(backend, c, layout, { seq: S, numerics: "fp32", chip: "none", vocabIds: ids });
      pipe.stageWeights(params);
      const compact = new Int32Array(c.vocab_size).fill(-1);
      ids.forEach((id, i) => { compact[id] = i; });
      const loss = pipe.loss(params, tokens, targets.map((t) => compact[t]));
      const fw = refForward(refConfigOf(c), toFloat64Params(layout, params), tokens, targets);
      let want = 0;
      for (let s = 0; s < S; s++) {
        const row = Array.from(ids, (id) => fw.logits[s * c.vocab_size + id]), mx = Math.max(...row);
        want += Math.log(row.reduce((a, x) => a + Math.exp(x - mx), 0)) + mx - fw.logits[s * c.vocab_size + targets[s]];
      }
      expect(Math.abs(loss - want / S)).toBeLessThan(1e-5 * loss);
    });
  });
}

describe("activation clipping", () => {
  test("fp32: loss and gradients with the residual stream clipped match the float64 reference", () => {
    const c = loadModelConfig("tiny"), layout = paramLayout(c), params = randomParams(layout, 11);
    const { tokens, targets } = randomWindow(5, c.vocab_size, S);
    const actClip = 0.6;   // small enough that part of the residual stream is clipped (checked below)
    using pipe = new TransformerPipeline(backend, c, layout, { seq: S, numerics: "fp32", chip: "none", vocabIds: null, actClip });
    pipe.stageWeights(params);
    const grads = new Float32Array(layout.total);
    const loss = pipe.forwardBackward(params, grads, tokens, targets, 1, 1);
    const rc = { ...refConfigOf(c), act_clip: actClip }, rp = toFloat64Params(layout, params);
    const fw = refForward(rc, rp, tokens, targets), rg = refBackward(rc, rp, tokens, targets, fw);
    const clipped = fw.xFinal.reduce((n, x) => n + (Math.abs(x) >= actClip ? 1 : 0), 0) / fw.xFinal.length;
    expect(clipped).toBeGreaterThan(0.05);
    expect(clipped).toBeLessThan(0.95);
    expect(Math.abs(loss - fw.loss)).toBeLessThan(1e-5 * fw.loss);
    const plain = refForward(refConfigOf(c), rp, tokens, targets);
    expect(Math.abs(plain.loss - fw.loss)).toBeGreaterThan(1e-3);   // clipping changed the model
    for (const t of layout.tensors) {
      const e = relErr(view(layout, grads, t.name), rg.get(t.name)!);
      if (e > 2e-4) throw new Error(`gradient of ${t.name} with activation clipping: relative error ${e.toExponential(2)}`);
    }
  });
});

describe("fp16 (ANE) numerics: loss scaling keeps small gradients alive", () => {
  test("tiny model at its real init scale: without scaling most attention-weight gradients underflow to 0", () => {
    const c = loadModelConfig("tiny"), layout = paramLayout(c), params = initParams(c, layout, 7);
    const { tokens, targets } = randomWindow(9, c.vocab_size, S);
    const nonzero = (numerics: "fp16" | "fp32", scale: number) => {
      using pipe = new TransformerPipeline(backend, c, layout, { seq: S, numerics, chip: "none", vocabIds: null });
      pipe.stageWeights(params);
      const g = new Float32Array(layout.total);
      pipe.forwardBackward(params, g, tokens, targets, scale, 1);
      const w = view(layout, g, "model.layers.0.self_attn.q_proj.weight");
      return w.reduce((n, x) => n + (x !== 0 ? 1 : 0), 0) / w.length;
    };
    const fp32 = nonzero("fp32", 1), unscaled = nonzero("fp16", 1), scaled = nonzero("fp16", 256);
    expect(fp32).toBeGreaterThan(0.99);
    expect(unscaled).toBeLessThan(0.5 * scaled);
    expect(scaled).toBeGreaterThan(0.9);
  });
});
