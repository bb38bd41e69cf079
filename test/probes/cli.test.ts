// Every probe through the CLI entry on the cpu backend, small sizes; documents checked against the
// schema and against float64 references computed here, independently of probes/.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateDocument } from "../../probes/schema.ts";
import { runCli, runProbeJson } from "./helpers.ts";

const TIMEOUT = 60_000;

describe("probe list", () => {
  test("names every probe with a description", () => {
    const res = runCli(["probe", "list"]);
    expect(res.code).toBe(0);
    for (const name of ["qos-sweep", "weight-reload", "peak"]) expect(res.stdout).toMatch(new RegExp(`^${name}\\s+\\S`, "m"));
  });
});

describe("qos-sweep", () => {
  test("runs, validates, and every level gives the first level's output on cpu", () => {
    const doc = runProbeJson("qos-sweep", ["--levels", "9,21,63", "--channels", "32", "--spatial", "32", "--evals", "3", "--warmup", "1"]);
    expect(validateDocument(doc)).toEqual([]);
    expect(doc.probe).toBe("qos-sweep");
    expect(doc.backend.kind).toBe("cpu");
    expect(doc.parameters.levels).toEqual([9, 21, 63]);
    expect(doc.results.levels.map((l: any) => l.qos)).toEqual([9, 21, 63]);
    expect(doc.results.flop_per_eval).toBe(2 * 32 * 32 * 32);
    for (const level of doc.results.levels) {
      expect(level.error).toBeNull();
      expect(level.matches_first).toBe(true);
      expect(level.eval.count).toBe(3);
      expect(level.eval.wall_ms.median).toBeGreaterThan(0);
    }
    expect(doc.results.all_match).toBe(true);
  }, TIMEOUT);

  test("the table form prints a row per level and the verdict", () => {
    const res = runCli(["probe", "qos-sweep", "--backend", "cpu", "--levels", "0,33", "--channels", "16", "--spatial", "32", "--evals", "2", "--warmup", "0"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^\s*0\s+[\d.]+/m);
    expect(res.stdout).toMatch(/^\s*33\s+[\d.]+/m);
    expect(res.stdout).toMatch(/^verdict: all 2 QoS levels work with identical outputs/m);
  }, TIMEOUT);

  test("a level the chip rejects keeps its row, with the rule in its error", () => {
    // 16 fp16 values are 32-byte rows: the m4 profile wants 64-byte-aligned I/O rows.
    const doc = runProbeJson("qos-sweep", ["--levels", "21", "--channels", "16", "--spatial", "16", "--evals", "1", "--warmup", "0"]);
    expect(validateDocument(doc)).toEqual([]);
    expect(doc.results.levels[0].error).toMatch(/io-row-align/);
    expect(doc.results.all_match).toBe(false);
    expect(doc.verdict).toBe("QoS 21 failed");
  }, TIMEOUT);
});

// The dynamic path's tensors as docs/probes.md states them:
//   x[i, s] = ((7i + 13s) mod 31 - 15) / 16        W_B[i, o] = ((11i + 7o) mod 19 - 9) / 32
// and y_B[o, s] = sum_i W_B[i, o] x[i, s], here in float64.
function dynamicReference(dim: number, seq: number) {
  const x = (i: number, s: number) => (((7 * i + 13 * s) % 31) - 15) / 16;
  const w = (i: number, o: number) => (((11 * i + 7 * o) % 19) - 9) / 32;
  const y = (o: number, s: number) => {
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += w(i, o) * x(i, s);
    return sum;
  };
  const termSum = (o: number, s: number) => {
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += Math.abs(w(i, o) * x(i, s));
    return sum;
  };
  return { y, termSum };
}

describe("weight-reload", () => {
  test("baked weights unchanged after reload; dynamic weights change and match float64", () => {
    const dim = 32, seq = 32;
    const doc = runProbeJson("weight-reload", ["--dim", String(dim), "--spatial", String(seq), "--evals", "2", "--warmup", "1"]);
    expect(validateDocument(doc)).toEqual([]);
    const { baked, dynamic } = doc.results;

    expect(baked.output).toBe("unchanged");
    expect(baked.before_max_abs_error_vs_a).toBe(0);   // identity conv of fp16-exact inputs is exact
    expect(baked.after_max_abs_diff_vs_a).toBe(0);
    expect(baked.after_max_abs_diff_vs_b).toBeGreaterThan(0.5);

    expect(dynamic.output).toBe("changed");
    expect(dynamic.within_tolerance).toBe(true);
    const ref = dynamicReference(dim, seq);
    let maxTermSum = 0, refSum = 0;
    for (let o = 0; o < dim; o++)
      for (let s = 0; s < seq; s++) {
        maxTermSum = Math.max(maxTermSum, ref.termSum(o, s));
        refSum += ref.y(o, s);
      }
    // Independent fp16 bound: 16 units of fp16 roundoff (2^-11) of the largest |w·x| term sum.
    const bound = 2 ** -7 * maxTermSum;
    expect(dynamic.max_abs_error_b).toBeLessThanOrEqual(bound);
    expect(dynamic.samples_b.length).toBe(8);
    for (const { o, s, value } of dynamic.samples_b) {
      expect(Math.abs(value - ref.y(o, s))).toBeLessThanOrEqual(bound);
    }
    expect(Math.abs(dynamic.sum_b - refSum)).toBeLessThanOrEqual(dim * seq * bound);
    expect(doc.verdict).toBe("baked weights: reload ignored (as on device); dynamic weights: work");
  }, TIMEOUT);
});

describe("dialects", () => {
  test("--chip m1 compiles the ios16 dialect and gives the same verdicts", () => {
    const doc = runProbeJson("weight-reload", ["--chip", "m1", "--dim", "32", "--spatial", "32", "--evals", "1", "--warmup", "0"]);
    expect(validateDocument(doc)).toEqual([]);
    expect(doc.parameters.chip).toBe("m1");
    expect(doc.parameters.dialect).toBe("ios16");
    expect(doc.verdict).toBe("baked weights: reload ignored (as on device); dynamic weights: work");
  }, TIMEOUT);
});

describe("peak", () => {
  test("GFLOP, TFLOPS and % of peak are computed from the measured times", () => {
    const doc = runProbeJson("peak", ["--channels", "32,64", "--depths", "2,3", "--spatial", "32", "--evals", "3", "--warmup", "1"]);
    expect(validateDocument(doc)).toEqual([]);
    const { peak, rows } = doc.results;
    expect(rows.map((r: any) => [r.channels, r.depth])).toEqual([[32, 2], [32, 3], [64, 2], [64, 3]]);
    expect(peak.precision).toBe("fp32");
    for (const r of rows) {
      expect(r.error).toBeNull();
      expect(r.output_finite).toBe(true);
      const gflop = (2 * r.channels * r.channels * 32 * r.depth) / 1e9;
      expect(r.gflop_per_eval).toBeCloseTo(gflop, 12);
      // TFLOPS = FLOP / s / 1e12 = (gflop * 1e9) / (ms / 1e3) / 1e12
      const tflops = (gflop * 1e9) / (r.eval.wall_ms.median / 1e3) / 1e12;
      expect(Math.abs(r.tflops - tflops)).toBeLessThanOrEqual(1e-9 * tflops);
      if (peak.tflops !== null) {
        expect(Math.abs(r.pct_of_peak - (tflops / peak.tflops) * 100)).toBeLessThanOrEqual(1e-9 * r.pct_of_peak);
      }
    }
    expect(doc.results.best_tflops).toBe(Math.max(...rows.map((r: any) => r.tflops)));
  }, TIMEOUT);
});

describe("--out", () => {
  test("writes the same document that --json prints", () => {
    const dir = mkdtempSync(join(tmpdir(), "rustane-probes-"));
    try {
      const file = join(dir, "qos.json");
      const res = runCli(["probe", "qos-sweep", "--backend", "cpu", "--json", "--out", file, "--levels", "21", "--channels", "8", "--spatial", "32", "--evals", "1", "--warmup", "0"]);
      expect(res.code).toBe(0);
      const doc = JSON.parse(res.stdout);
      expect(doc.results.levels[0].error).toBeNull();
      expect(JSON.parse(readFileSync(file, "utf8"))).toEqual(doc);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, TIMEOUT);
});

describe("bad option values", () => {
  const cases: Array<[string[], RegExp]> = [
    [["qos-sweep", "--levels", "0,64"], /--levels: .*0\.\.63.*\(got 0,64\)/],
    [["qos-sweep", "--evals", "0"], /--evals: must be an integer in 1\.\.100000 \(got 0\)/],
    [["qos-sweep", "--backend", "gpu"], /--backend: must be one of cpu, ane, auto \(got "gpu"\)/],
    [["weight-reload", "--dim", "1"], /--dim: must be an integer in 2\.\.4096 \(got 1\)/],
    [["peak", "--channels", "256,abc"], /--channels: .*\(got "256,abc"\)/],
    [["peak", "--depths", "32,32"], /--depths: .*duplicates/],
    [["peak", "--backend", "cpu", "--chip", "m9"], /--chip: must be one of .*m4.* \(got "m9"\)/],
  ];
  for (const [args, message] of cases) {
    test(args.join(" "), () => {
      const res = runCli(["probe", ...args]);
      expect(res.code).toBe(2);
      expect(res.stdout).toBe("");
      expect(res.stderr.trim().split("\n").length).toBe(1);
      expect(res.stderr).toMatch(message);
    });
  }
});
