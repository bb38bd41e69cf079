// Sampler statistics against directly computed distributions: top-k never leaves the k largest,
// top-p keeps the smallest high-mass prefix, frequencies follow softmax(logits / T), seeds repeat.
import { describe, expect, test } from "bun:test";
import { Sampler, candidates, topKIds, argmax } from "../../src/generate/sampler.ts";

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}
const r = lcg(9);
const logits = Float32Array.from({ length: 200 }, () => 4 * r() - 2);
const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);

describe("sampler", () => {
  test("greedy is the argmax (first of ties)", () => {
    const s = new Sampler({ temperature: 0, topK: 50, topP: 0.5, seed: 1 });
    expect(s.sample(logits)).toBe(order[0]);
    expect(argmax([1, 3, 3, 2])).toBe(1);
  });

  test("top-k ids are the k largest, most likely first, ties to the lower id", () => {
    expect(Array.from(topKIds(logits, 17))).toEqual(order.slice(0, 17));
    expect(Array.from(topKIds([1, 5, 5, 5, 0], 2))).toEqual([1, 2]);
    expect(topKIds(logits, 0).length).toBe(200);
  });

  test("top-k sampling never picks outside the top k", () => {
    const s = new Sampler({ temperature: 5, topK: 7, topP: 1, seed: 3 }), allowed = new Set(order.slice(0, 7));
    for (let i = 0; i < 5000; i++) if (!allowed.has(s.sample(logits))) throw new Error("picked outside the top 7");
  });

  test("top-p keeps the smallest prefix whose softmax mass reaches p", () => {
    const T = 0.7, p = 0.6;
    const e = order.map((i) => Math.exp(logits[i] / T)), z = e.reduce((a, b) => a + b, 0);
    let mass = 0, n = 0;
    while (mass < p) mass += e[n++] / z;
    const c = candidates(logits, { temperature: T, topK: 0, topP: p });
    expect(Array.from(c.ids)).toEqual(order.slice(0, n));
    const kept = e.slice(0, n).reduce((a, b) => a + b, 0);
    c.probs.forEach((q, i) => expect(Math.abs(q - e[i] / kept)).toBeLessThan(1e-12));
  });

  test("frequencies follow softmax(logits / T) over the top k (chi-square)", () => {
    const T = 1.3, k = 5, N = 40000;
    const s = new Sampler({ temperature: T, topK: k, topP: 1, seed: 11 });
    const counts = new Map<number, number>();
    for (let i = 0; i < N; i++) { const id = s.sample(logits); counts.set(id, (counts.get(id) ?? 0) + 1); }
    const e = order.slice(0, k).map((i) => Math.exp(logits[i] / T)), z = e.reduce((a, b) => a + b, 0);
    let chi2 = 0;
    order.slice(0, k).forEach((id, j) => { const want = N * e[j] / z; chi2 += (((counts.get(id) ?? 0) - want) ** 2) / want; });
    expect(chi2).toBeLessThan(18.5);   // 4 degrees of freedom: p = 0.001
  });

  test("the same seed gives the same tokens; another seed differs", () => {
    const run = (seed: number) => { const s = new Sampler({ temperature: 1, topK: 50, topP: 0.9, seed }); return Array.from({ length: 64 }, () => s.sample(logits)); };
    expect(run(5)).toEqual(run(5));
    expect(run(6)).not.toEqual(run(5));
  });

  test("bad options are clear errors", () => {
    expect(() => new Sampler({ temperature: -1, topK: 50, topP: 1, seed: 0 })).toThrow(/temperature/);
    expect(() => new Sampler({ temperature: 1, topK: 1.5, topP: 1, seed: 0 })).toThrow(/top-k/);
    expect(() => new Sampler({ temperature: 1, topK: 5, topP: 0, seed: 0 })).toThrow(/top-p/);
  });
});
