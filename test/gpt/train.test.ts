// The GPT sampler's incremental (key/value cache) logits against the float64 reference's
// full-sequence forward, and a few training steps of tiny-gpt through the trainer on Python
// source: the loss must fall.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openBackend } from "../../src/ffi/index.ts";
import { loadModelConfig } from "../../src/model/config.ts";
import { paramLayout, view } from "../../src/model/params.ts";
import { sampleContinuation } from "../../src/train/sample.ts";
import { openGenerativeModel } from "../../src/generate/model.ts";
import { train } from "../../src/train/trainer.ts";
import { Dataset } from "../../src/data/dataset.ts";
import { ByteTokenizer } from "../../src/data/tokenizer.ts";
import { gptRefForward, type RefParams } from "../reference/gpt.ts";
import { lcg, randomParams } from "../helpers/model.ts";

const backend = openBackend("cpu");
afterAll(() => backend.close());

const PYTHON = `
def fibonacci(n):
    """Return the n-th Fibonacci number."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


class Stack:
    def __init__(self):
        self.items = []

    def push(self, item):
        self.items.append(item)

    def pop(self):
        if not self.items:
            raise IndexError("pop from an empty stack")
        return self.items.pop()


def main():
    for i in range(10):
        print(i, fibonacci(i))
    s = Stack()
    s.push(1)
    s.push(2)
    print(s.pop())


if __name__ == "__main__":
    main()
`.repeat(6);

describe("gpt generation (the checkpoint sample)", () => {
  test("incremental logits at every position match the float64 reference forward", () => {
    const c = loadModelConfig("tiny-gpt"), layout = paramLayout(c), params = randomParams(layout, 21, 0.3);
    const r = lcg(8), S = 20, tokens = Int32Array.from({ length: S }, () => Math.floor(r() * c.vocab_size));
    const rp: RefParams = new Map(layout.tensors.map((t) => [t.name, Float64Array.from(view(layout, params, t.name))]));
    const fw = gptRefForward({ ...c }, rp, tokens, new Int32Array(S));
    using m = openGenerativeModel({ config: c, layout, params }, { weights: "fp32" });
    for (let t = 0; t < S; t++) {
      const got = t === 0 ? m.prefill(tokens.subarray(0, 1)) : m.decodeStep(tokens[t], t);
      let err = 0, scale = 0;
      for (let v = 0; v < c.vocab_size; v++) {
        err = Math.max(err, Math.abs(got[v] - fw.logits[t * c.vocab_size + v]));
        scale = Math.max(scale, Math.abs(fw.logits[t * c.vocab_size + v]));
      }
      if (err > 1e-4 * scale) throw new Error(`position ${t}: logits differ by ${err} (scale ${scale})`);
    }
  });

  test("sampling is deterministic for a seed and stays in the kept vocabulary", () => {
    const c = loadModelConfig("tiny-gpt"), layout = paramLayout(c), params = randomParams(layout, 4, 0.3);
    const ids = Int32Array.from([10, 32, 97, 98, 99]);
    const a = sampleContinuation(c, layout, params, [10], 30, { temperature: 1, seed: 3, vocabIds: ids });
    const b = sampleContinuation(c, layout, params, [10], 30, { temperature: 1, seed: 3, vocabIds: ids });
    expect(a).toEqual(b);
    expect(a.length).toBe(30);
    expect(a.every((id) => ids.includes(id))).toBe(true);
    expect(new Set(a).size).toBeGreaterThan(1);
  });
});

describe("tiny-gpt training through the trainer", () => {
  test("80 steps on Python source reduce the loss (fp16 numerics, loss scale 256)", async () => {
    const c = loadModelConfig("tiny-gpt"), tok = new ByteTokenizer();
    for (const numerics of ["fp16"] as const) {      // the ANE numerics; fp32 is covered by step.test.ts
      const dir = mkdtempSync(join(tmpdir(), "rustane-gpt-"));
      try {
        const text = tok.encode(PYTHON);
        const data = new Dataset({ tokens: text, description: "python sample", bytes: text.length }, c.vocab_size, 32, 0.1);
        const r = await train({
          backend, model: c, numerics, seq: 32, microBatches: 2, steps: 80, lr: 3e-3, minLr: 3e-4, warmup: 5,
          weightDecay: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, clip: 1, actClip: 0, lossScale: numerics === "fp16" ? 256 : 1,
          lossScaleMode: "static", valEvery: 0, valWindows: 1, ckptEvery: 80, logEvery: 10, seed: 1, runDir: dir,
          telemetryStderr: false, progress: false, quiet: true, data, dataBytesPerToken: 1, tokenizer: tok, version: "test",
        });
        // ~ln(kept ids) at init: the classifier covers only the characters present
        expect(r.firstLoss).toBeGreaterThan(0.9 * Math.log(data.vocabIds.length));
        expect(r.finalLoss).toBeLessThan(r.firstLoss - 1.0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }, 120_000);
});
