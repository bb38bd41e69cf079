// The sampler (libane's ane_sample behind Sampler) against a reference written here from the rule:
// candidates ranked by (logit desc, id asc), top-k, softmax(logit / T) in float64, the shortest
// top-p prefix, u picks in rank order. Plus statistics: top-k never leaves the k largest,
// frequencies follow softmax(logits / T), seeds repeat, masked ids are never chosen.
import { describe, expect, test } from "bun:test";
import { Sampler } from "../../src/generate/sampler.ts";
import { sampleToken } from "../../src/ffi/decode-ops.ts";
import { lcg } from "../helpers/model.ts";

const r = lcg(9);
const logits = Float32Array.from({ length: 200 }, () => 4 * r() - 2);
const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);

describe("sampler", () => {
  test("greedy is the argmax (first of ties), and respects the mask", () => {
    const s = new Sampler({ temperature: 0, topK: 50, topP: 0.5, seed: 1 });
    expect(s.sample(logits)).toBe(order[0]);
    expect(sampleToken(Float32Array.from([1, 3, 3, 2]), null, 0, 0, 1, 0)).toBe(1);
    const mask = new Uint8Array(200).fill(1);
    mask[order[0]] = 0;
    expect(s.sample(logits, mask)).toBe(order[1]);
  });

  /** The rule, written out: the id u picks. */
  function referencePick(l: Float32Array, allowed: Uint8Array | null, T: number, k: number, p: number, u: number): number {
    let ids = Array.from(l.keys()).filter((i) => !allowed || allowed[i]).sort((a, b) => l[b] - l[a] || a - b);
    if (k > 0) ids = ids.slice(0, k);
    const e = ids.map((i) => Math.exp((l[i] - l[ids[0]]) / T)), z = e.reduce((a, b) => a + b, 0);
    let keep = ids.length;
    if (p < 1) { let m = 0; for (let i = 0; i < ids.length; i++) { m += e[i] / z; if (m >= p) { keep = i + 1; break; } } }
    const kept = e.slice(0, keep).reduce((a, b) => a + b, 0);
    let acc = 0;
    for (let i = 0; i < keep; i++) { acc += e[i] / kept; if (u < acc) return ids[i]; }
    return ids[keep - 1];
  }

  test("every pick equals the rule's, over temperatures, top-k, top-p, masks and u", () => {
    const rr = lcg(4), mask = Uint8Array.from({ length: 200 }, () => (rr() < 0.7 ? 1 : 0));
    const tied = Float32Array.from(logits, (x, i) => (i % 3 ? Math.round(x * 4) / 4 : x));   // many equal logits
    for (const l of [logits, tied])
      for (const T of [0.3, 1, 4])
        for (const k of [0, 1, 7, 50])
          for (const p of [1, 0.9, 0.3])
            for (const m of [null, mask])
              for (let t = 0; t < 20; t++) {
                const u = rr();
                const got = sampleToken(l, m, T, k, p, u), want = referencePick(l, m, T, k, p, u);
                if (got !== want) throw new Error(`T=${T} k=${k} p=${p} u=${u} mask=${!!m}: picked ${got}, the rule gives ${want}`);
              }
  });

  test("top-k sampling never picks outside the top k", () => {
    const s = new Sampler({ temperature: 5, topK: 7, topP: 1, seed: 3 }), allowed = new Set(order.slice(0, 7));
    for (let i = 0; i < 5000; i++) if (!allowed.has(s.sample(logits))) throw new Error("picked outside the top 7");
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
