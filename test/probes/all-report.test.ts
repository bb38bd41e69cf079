// `rustane probe all`, `rustane report` and libane's backend query, through the CLI and the ffi.
// The report fixture set: documents produced here by running the probes on cpu, plus a
// hand-written device-like set (an "M4 Pro" on the ane backend) whose table cells are checked
// against numbers written into it by hand.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openBackend } from "../../src/ffi/index.ts";
import { queryBackend } from "../../src/ffi/query.ts";
import { validateDocument, validateProbeSet } from "../../probes/schema.ts";
import { runCli } from "./helpers.ts";

const TIMEOUT = 60_000;
const stats = (ms: number) => ({ median: ms, p90: ms, min: ms, max: ms });
const evals = (ms: number, hw: number | null = null) => ({ count: 10, wall_ms: stats(ms), hw_ms: hw === null ? null : stats(hw) });

function envelope(probe: string, results: unknown) {
  return {
    schema: "rustane.probe/1",
    rustane: { version: "0.1.0", libane: "0.1.0", abi: 1 },
    backend: { kind: "ane", default_chip: "m4" },
    machine: { os: "darwin", os_release: "24.1.0", arch: "arm64", cpu_model: "Apple M4 Pro", cores: 14, memory_gb: 48 },
    probe,
    parameters: { backend: "auto", chip: "m4", dialect: "ios18" },
    started_at: "2025-06-01T10:00:00.000Z",
    duration_ms: 1000,
    results,
    verdict: "hand-written",
    notes: [],
  };
}

/** A device-like probe set, every number chosen by hand. */
function deviceSet() {
  const convRow = (c: number, ms: number, mb: number, gflops: number, vs: number | null, cliff: boolean) => ({
    channels: c, weights_mb: mb, gflop_per_eval: 0.1, eval: evals(ms), gflops, gflops_per_mb: gflops / mb, vs_best_so_far: vs, cliff, error: null,
  });
  const docs = [
    envelope("peak", {
      peak: { tflops: 18.6, precision: "fp16", source: "chip profile" },
      rows: [{ channels: 512, depth: 32, spatial: 64, weights_mb: 16.8, gflop_per_eval: 1.07, compile_ms: 20, load_ms: 2, eval: evals(0.12),
        tflops: 9.3, tflops_hw: null, pct_of_peak: 50, output_finite: true, error: null }],
      best_tflops: 9.3,
    }),
    envelope("inmem-bench", {
      io: "fp32-cast",
      rows: [{ channels: 256, spatial: 64, weights_mb: 0.13, mflop_per_eval: 8.4, compile_ms: 10, load_ms: 1, eval: evals(0.07, 0.02),
        tflops: 0.12, tflops_hw: 0.42, max_abs_error: 0, tolerance: 0.06, error: null }],
      dispatch_ms: 0.07, best_tflops: 0.12,
    }),
    envelope("qos-sweep", {
      flop_per_eval: 8388608,
      levels: [0, 21].map((qos) => ({ qos, compile_ms: 11, load_ms: 1.7, eval: evals(0.07), matches_first: true, max_abs_diff_vs_first: 0, error: null })),
      all_match: true, eval_median_spread: 0.04,
    }),
    envelope("dynamic-matmul", {
      shapes: [{ ic: 768, oc: 768, seq: 256, gflop_per_eval: 0.302, compile_ms: 15, eval: evals(0.5), staged: stats(0.8), gflops: 604, gflops_staged: 377.5,
        sgemm_ms: 2, sgemm_gflops: 151, max_abs_error: 0.01, tolerance: 0.43, within_tolerance: true, error: null }],
      all_correct: true, best_gflops: 604,
    }),
    envelope("int8", {
      applicable: true, reason: null, channels: 512, depth: 32, spatial: 64,
      fp16: { compile_ms: 20, eval: evals(0.12), tops: 9, error: null }, int8: { compile_ms: 25, eval: evals(0.07), tops: 16.2, error: null },
      ratio: 1.8, rel_diff_vs_fp16: 0.03,
    }),
    envelope("sram", {
      cliff_drop: 0.3,
      rows: [convRow(1024, 0.1, 2.1, 1300, null, false), convRow(2048, 0.3, 8.4, 1800, 1.38, false), convRow(4096, 2, 33.6, 1000, 0.56, true)],
      cliff_at_mb: 33.6, cliff_channels: 4096, best_gflops: 1800,
    }),
    envelope("perf-stats", {
      applicable: true, reason: null, ignored_keys: [],
      objects: [{ name: "_ANEPerformanceStats", exists: true, fields: [{ name: "hwExecutionTime", exists: true }] }],
      device_measurement: { program: "conv 256x256, 64 wide", evals: 3, stats_attached: true, hw_ns: 0, mask_set: true,
        mask: 4294967295, mask_read_back: 4294967295, hw_ns_with_mask: 21000, hw_time_nonzero: true, error: null },
      hw_time: { evals: 10, with_hw_time: 10, hw_ms: stats(0.02), wall_ms: stats(0.07) },
    }),
  ];
  return {
    schema: "rustane.probe-set/1", probe_schema: "rustane.probe/1",
    rustane: { version: "0.1.0", libane: "0.1.0", abi: 1 },
    machine: docs[0].machine, backend: "ane", sizes: "reference",
    started_at: "2025-06-01T10:00:00.000Z", duration_ms: 30000, documents: docs, failures: [],
  };
}

describe("libane backend query", () => {
  test("the cpu backend answers not applicable, with the envelope; an unknown query is an error", () => {
    using backend = openBackend("cpu");
    for (const what of ["perf-stats", "advanced"] as const) {
      const answer = queryBackend(backend, what);
      expect(answer).toMatchObject({ query: what, backend: "cpu", applicable: false });
      expect(String(answer["reason"])).toMatch(/--backend ane on a Mac/);
    }
    expect(() => queryBackend(backend, "serial" as never)).toThrow(/unknown backend query 'serial'/);
  });
});

describe("probe all", () => {
  test("one valid probe-set document holding every probe's document, in under 60 s on cpu", () => {
    const t0 = performance.now();
    const res = runCli(["probe", "all", "--backend", "cpu", "--json"]);
    const seconds = (performance.now() - t0) / 1000;
    expect(res.code).toBe(0);
    const set = JSON.parse(res.stdout);
    expect(validateProbeSet(set)).toEqual([]);
    expect(set.sizes).toBe("small");
    expect(set.failures).toEqual([]);
    expect(set.documents.map((d: any) => d.probe)).toEqual(
      ["qos-sweep", "weight-reload", "peak", "perf-stats", "advanced", "inmem-bench", "sram", "dynamic-matmul", "int8"]);
    for (const doc of set.documents) expect(validateDocument(doc)).toEqual([]);
    expect(seconds).toBeLessThan(60);
  }, 90_000);
});

describe("report", () => {
  test("renders cpu documents made here and a hand-written device set into one table", () => {
    const dir = mkdtempSync(join(tmpdir(), "rustane-report-"));
    try {
      for (const [name, args] of [
        ["peak", ["--channels", "32", "--depths", "2", "--spatial", "32", "--evals", "2", "--warmup", "0"]],
        ["int8", ["--channels", "32", "--depth", "1", "--spatial", "32", "--evals", "1", "--warmup", "0"]],
      ] as const) {
        const res = runCli(["probe", name, "--backend", "cpu", "--json", "--out", join(dir, `${name}.json`)]);
        expect(res.code).toBe(0);
      }
      expect(validateProbeSet(deviceSet())).toEqual([]);
      writeFileSync(join(dir, "m4pro.json"), JSON.stringify(deviceSet()));

      const md = runCli(["report", join(dir, "peak.json"), join(dir, "int8.json"), join(dir, "m4pro.json")]);
      expect(md.code).toBe(0);
      const device = md.stdout.split("\n").find((l) => l.startsWith("| Apple M4 Pro"))!;
      expect(device.split("|").map((c) => c.trim()).slice(1, -1)).toEqual([
        "Apple M4 Pro, 48 GB", "darwin 24.1.0", "ane", "m4", "9.300", "50.0", "0.070", "2 levels match, spread 4%",
        "–", "604.0", "1.80", "at 33.6 MB", "yes",
      ]);
      expect(md.stdout.split("\n").filter((l) => /^\| .* \| cpu \| m4 \|/.test(l)).length).toBe(1);

      const js = runCli(["report", join(dir, "peak.json"), join(dir, "int8.json"), join(dir, "m4pro.json"), "--format", "json"]);
      expect(js.code).toBe(0);
      const rows = JSON.parse(js.stdout).rows;
      expect(rows.length).toBe(2);
      const cpu = rows.find((r: any) => r.backend === "cpu");
      expect(cpu.sources.sort()).toEqual(["int8.json", "peak.json"]);
      expect(cpu.peak_tflops).toBeGreaterThan(0);
      expect(cpu.int8_ratio).toBeGreaterThan(0);
      expect(cpu.dispatch_ms).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, TIMEOUT);

  test("bad or foreign JSON is an error naming the file", () => {
    const dir = mkdtempSync(join(tmpdir(), "rustane-report-"));
    try {
      const cases: Array<[string, string, RegExp]> = [
        ["broken.json", "{not json", /broken\.json: not valid JSON/],
        ["foreign.json", JSON.stringify({ schema: "other/1", x: 1 }), /foreign\.json: not a rustane probe result \(its "schema" is "other\/1"/],
        ["invalid.json", JSON.stringify({ ...deviceSet(), backend: 7 }), /invalid\.json: does not match rustane\.probe-set\/1: backend/],
      ];
      for (const [name, text, message] of cases) {
        writeFileSync(join(dir, name), text);
        const res = runCli(["report", join(dir, name)]);
        expect(res.code).toBe(1);
        expect(res.stderr).toMatch(message);
      }
      expect(runCli(["report", join(dir, "missing.json")]).stderr).toMatch(/missing\.json: cannot read it/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, TIMEOUT);
});

describe("privacy of probe sets", () => {
  test("a set with a hostname or a home path anywhere is rejected", () => {
    const withHost: any = deviceSet();
    withHost.machine = { ...withHost.machine };
    withHost.documents[0].backend.hostname = "alices-mbp";
    expect(validateProbeSet(withHost).join("\n")).toMatch(/hostname: field name suggests personal data/);
    const withPath: any = deviceSet();
    withPath.failures = [{ probe: "sram", error: "cannot open /Users/alice/rustane/x" }];
    expect(validateProbeSet(withPath).join("\n")).toMatch(/holds a path under a home directory/);
    const withSerial: any = deviceSet();
    withSerial.machine = { ...withSerial.machine, serial_number: "C02XYZ" };
    expect(validateProbeSet(withSerial).length).toBeGreaterThan(0);
  });
});
