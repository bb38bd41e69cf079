// The probes added in wave 2 through the CLI on the cpu backend, small sizes; numbers checked
// against float64 formulas computed here from docs/probes.md, independently of probes/.
import { describe, expect, test } from "bun:test";
import { validateDocument } from "../../probes/schema.ts";
import { runCli, runProbeJson } from "./helpers.ts";

const TIMEOUT = 60_000;

// docs/probes.md: x[i, s] = ((7i + 13s) mod 31 − 15) / 16 for every probe's input.
const x = (i: number, s: number) => (((7 * i + 13 * s) % 31) - 15) / 16;

/** max over (o, s) of sum_i |w(o, i) x(i, s)|: the scale of the probes' fp16 bounds, in float64. */
function maxTermSum(w: (o: number, i: number) => number, ic: number, oc: number, seq: number): number {
  let m = 0;
  for (let o = 0; o < oc; o++)
    for (let s = 0; s < seq; s++) {
      let t = 0;
      for (let i = 0; i < ic; i++) t += Math.abs(w(o, i) * x(i, s));
      m = Math.max(m, t);
    }
  return m;
}

describe("perf-stats", () => {
  test("not applicable on cpu, with a reason; no eval reports a hardware time", () => {
    const doc = runProbeJson("perf-stats", ["--evals", "4", "--channels", "32", "--spatial", "32"]);
    expect(validateDocument(doc)).toEqual([]);
    expect(doc.results.applicable).toBe(false);
    expect(doc.results.reason).toMatch(/cpu backend/);
    expect(doc.results.objects).toEqual([]);
    expect(doc.results.hw_time.evals).toBe(4);
    expect(doc.results.hw_time.with_hw_time).toBe(0);
    expect(doc.results.hw_time.hw_ms).toBeNull();
    expect(doc.verdict).toBe("stats objects: not applicable; no eval reported a hardware time");
  }, TIMEOUT);
});

describe("advanced", () => {
  test("not applicable on cpu: a valid document and a table line saying why", () => {
    const doc = runProbeJson("advanced", []);
    expect(validateDocument(doc)).toEqual([]);
    expect(doc.results).toMatchObject({ applicable: false, features: [], missing: [], ignored_keys: [] });
    expect(doc.verdict).toBe("not applicable on the cpu backend");
    const res = runCli(["probe", "advanced", "--backend", "cpu"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^not applicable \(the cpu backend has no Neural Engine/m);
  }, TIMEOUT);
});

describe("inmem-bench", () => {
  test("fp32 I/O with casts: MFLOP, TFLOPS and the error bound follow the formulas", () => {
    const s = 32;
    const doc = runProbeJson("inmem-bench", ["--channels", "32,64", "--spatial", String(s), "--evals", "3", "--warmup", "1"]);
    expect(validateDocument(doc)).toEqual([]);
    expect(doc.results.io).toBe("fp32-cast");
    const rows = doc.results.rows;
    expect(rows.map((r: any) => r.channels)).toEqual([32, 64]);
    for (const r of rows) {
      const c = r.channels;
      expect(r.error).toBeNull();
      expect(r.mflop_per_eval).toBeCloseTo((2 * c * c * s) / 1e6, 12);
      expect(r.tflops).toBeCloseTo((2 * c * c * s) / 1e12 / (r.eval.wall_ms.median / 1e3), 9);
      // weight w[o, i] = ((5o + 3i) mod 17 − 8) / 64 (patternMatrix(C, C, 5, 3, 17, 64))
      const bound = 2 ** -7 * maxTermSum((o, i) => (((5 * o + 3 * i) % 17) - 8) / 64, c, c, s);
      expect(r.tolerance).toBeCloseTo(bound, 5);
      expect(r.max_abs_error).toBeLessThanOrEqual(bound);
    }
    expect(doc.results.dispatch_ms).toBe(Math.min(...rows.map((r: any) => r.eval.wall_ms.median)));
  }, TIMEOUT);

  test("on m1 (no cast) the conv runs with fp16 I/O and says so", () => {
    const doc = runProbeJson("inmem-bench", ["--chip", "m1", "--channels", "32", "--spatial", "32", "--evals", "1", "--warmup", "0"]);
    expect(validateDocument(doc)).toEqual([]);
    expect(doc.results.io).toBe("fp16");
    expect(doc.results.rows[0].error).toBeNull();
    expect(doc.notes.join(" ")).toMatch(/cannot cast/);
  }, TIMEOUT);
});

describe("sram", () => {
  test("rows smallest first; GFLOP/s, ratios and cliff flags recomputed from the times", () => {
    const s = 32;
    const doc = runProbeJson("sram", ["--channels", "64,32,96", "--spatial", String(s), "--evals", "3", "--warmup", "1"]);
    expect(validateDocument(doc)).toEqual([]);
    const rows = doc.results.rows;
    expect(rows.map((r: any) => r.channels)).toEqual([32, 64, 96]);
    let best = 0;
    let firstCliff: any = null;
    for (const r of rows) {
      const c = r.channels;
      const gflops = (2 * c * c * s) / 1e9 / (r.eval.wall_ms.median / 1e3);
      expect(r.weights_mb).toBeCloseTo((c * c * 2) / 1e6, 12);
      expect(r.gflops).toBeCloseTo(gflops, 6);
      expect(r.gflops_per_mb).toBeCloseTo(gflops / ((c * c * 2) / 1e6), 4);
      if (best === 0) expect(r.vs_best_so_far).toBeNull();
      else expect(r.vs_best_so_far).toBeCloseTo(gflops / best, 6);
      expect(r.cliff).toBe(best > 0 && gflops / best < 0.7);
      if (r.cliff && !firstCliff) firstCliff = r;
      best = Math.max(best, gflops);
    }
    expect(doc.results.cliff_at_mb).toBe(firstCliff ? firstCliff.weights_mb : null);
    expect(doc.results.best_gflops).toBeCloseTo(best, 6);
  }, TIMEOUT);
});

describe("dynamic-matmul", () => {
  test("matches host sgemm within the fp16 bound of the float64 term sums; GFLOP/s from the times", () => {
    const doc = runProbeJson("dynamic-matmul", ["--shapes", "32x64x32,64x32x64", "--evals", "2", "--warmup", "1"]);
    expect(validateDocument(doc)).toEqual([]);
    expect(doc.results.all_correct).toBe(true);
    for (const r of doc.results.shapes) {
      const { ic, oc, seq } = r;
      const gflop = (2 * ic * oc * seq) / 1e9;
      expect(r.gflop_per_eval).toBeCloseTo(gflop, 15);
      expect(r.gflops).toBeCloseTo(gflop / (r.eval.wall_ms.median / 1e3), 6);
      expect(r.gflops_staged).toBeCloseTo(gflop / (r.staged.median / 1e3), 6);
      // W[i, o] = ((11i + 7o) mod 19 − 9) / 32 (as weight-reload's W_B)
      const bound = 2 ** -7 * maxTermSum((o, i) => (((11 * i + 7 * o) % 19) - 9) / 32, ic, oc, seq);
      expect(r.tolerance).toBeCloseTo(bound, 5);
      expect(r.max_abs_error).toBeLessThanOrEqual(bound);
      expect(r.within_tolerance).toBe(true);
    }
  }, TIMEOUT);

  test("a malformed --shapes is a usage error naming the option", () => {
    const res = runCli(["probe", "dynamic-matmul", "--backend", "cpu", "--shapes", "64x64"]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/--shapes: must be a comma-separated list of 1\.\.8 ICxOCxS triples/);
  });
});

describe("int8", () => {
  test("W8A8 and fp16 chains both run; TOPS and ratio from the times; quantization changes the output a little", () => {
    const c = 64, d = 3, s = 32;
    const doc = runProbeJson("int8", ["--channels", String(c), "--depth", String(d), "--spatial", String(s), "--evals", "2", "--warmup", "1"]);
    expect(validateDocument(doc)).toEqual([]);
    const r = doc.results;
    expect(r.applicable).toBe(true);
    const ops = 2 * c * c * s * d;
    for (const v of [r.fp16, r.int8]) {
      expect(v.error).toBeNull();
      expect(v.tops).toBeCloseTo(ops / 1e12 / (v.eval.wall_ms.median / 1e3), 9);
    }
    expect(r.ratio).toBeCloseTo(r.int8.tops / r.fp16.tops, 9);
    // Activation steps of 2^-5 on values of std ~0.5: a few percent after 3 layers, never 0.
    expect(r.rel_diff_vs_fp16).toBeGreaterThan(1e-3);
    expect(r.rel_diff_vs_fp16).toBeLessThan(0.2);
  }, TIMEOUT);

  test("not applicable on m1 (ios16 has no quantize)", () => {
    const doc = runProbeJson("int8", ["--chip", "m1", "--channels", "32", "--depth", "1", "--spatial", "32", "--evals", "1", "--warmup", "0"]);
    expect(validateDocument(doc)).toEqual([]);
    expect(doc.results.applicable).toBe(false);
    expect(doc.results.reason).toMatch(/ios16/);
    expect(doc.verdict).toMatch(/^not applicable/);
  }, TIMEOUT);
});
