// Shared by the GPT tests: a seeded generator and random parameters.
import type { ParamLayout } from "../../src/model/params.ts";

export function lcg(seed: number) {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

/** Random parameters with every bias and LayerNorm shift non-zero, so each one is exercised. */
export function randomParams(layout: ParamLayout, seed: number): Float32Array {
  const r = lcg(seed), p = new Float32Array(layout.total);
  for (const t of layout.tensors)
    for (let i = 0; i < t.size; i++)
      p[t.offset + i] = t.init === "ones" ? 0.8 + 0.4 * r() : t.init === "zeros" ? 0.2 * (r() - 0.5) : 0.3 * (r() - 0.5);
  return p;
}
