import { describe, expect, test } from "bun:test";
import { personalDataFindings, redactPersonalData, validateDocument } from "../../probes/schema.ts";

const stats = { median: 1, p90: 2, min: 0.5, max: 3 };

// A hand-written, minimal valid document (peak probe).
function sampleDoc(): Record<string, any> {
  return {
    schema: "rustane.probe/1",
    rustane: { version: "0.1.0", libane: "0.1.0", abi: 1 },
    backend: { kind: "cpu", threads: 2 },
    machine: { os: "linux", os_release: "6.1.0", arch: "x64", cpu_model: "Some CPU", cores: 2, memory_gb: 24 },
    probe: "peak",
    parameters: { backend: "cpu", chip: "m4", channels: [64] },
    started_at: "2025-01-02T03:04:05.678Z",
    duration_ms: 12.5,
    results: {
      peak: { tflops: 0.1, precision: "fp32", source: "test" },
      rows: [{
        channels: 64, depth: 2, spatial: 32, weights_mb: 0.016384, gflop_per_eval: 0.000524288,
        compile_ms: 1, load_ms: 0.1, eval: { count: 3, wall_ms: stats, hw_ms: null },
        tflops: 0.0005, tflops_hw: null, pct_of_peak: 0.5, output_finite: true, error: null,
      }],
      best_tflops: 0.0005,
    },
    verdict: "best 0.0005 TFLOPS",
    notes: [],
  };
}

describe("probe document schema", () => {
  test("accepts a complete document", () => {
    expect(validateDocument(sampleDoc())).toEqual([]);
  });

  test("rejects each missing top-level field", () => {
    for (const key of Object.keys(sampleDoc())) {
      const doc = sampleDoc();
      delete doc[key];
      expect(validateDocument(doc).length).toBeGreaterThan(0);
    }
  });

  test("rejects missing nested fields and wrong types", () => {
    const a = sampleDoc(); delete a.machine.cores;
    const b = sampleDoc(); delete b.results.rows[0].tflops;
    const c = sampleDoc(); c.duration_ms = -1;
    const d = sampleDoc(); d.started_at = "yesterday";
    const e = sampleDoc(); e.schema = "rustane.probe/2";
    const f = sampleDoc(); f.results.rows = [];
    for (const doc of [a, b, c, d, e, f]) expect(validateDocument(doc).length).toBeGreaterThan(0);
  });

  test("rejects results of another probe", () => {
    const doc = sampleDoc();
    doc.probe = "qos-sweep";
    expect(validateDocument(doc).length).toBeGreaterThan(0);
  });

  test("rejects personal data fields anywhere", () => {
    const cases: Array<(d: Record<string, any>) => void> = [
      (d) => { d.machine.hostname = "alices-mbp"; },
      (d) => { d.machine.serial_number = "C02XYZ"; },
      (d) => { d.backend.hostname = "alices-mbp"; },       // backend is a loose object: caught by the privacy check
      (d) => { d.backend.user_name = "alice"; },
      (d) => { d.parameters.path = "/tmp/x"; },
      (d) => { d.notes.push("wrote /Users/alice/results.json"); },
      (d) => { d.results.peak.source = "read from /home/bob/peak.txt"; },
    ];
    for (const mutate of cases) {
      const doc = sampleDoc();
      mutate(doc);
      expect(validateDocument(doc).length).toBeGreaterThan(0);
    }
  });

  test("personalDataFindings names where; redactPersonalData removes it", () => {
    const info = { kind: "cpu", Host_Name: "x", nested: { lib: "/Users/alice/libane.dylib", threads: 4 } };
    expect(personalDataFindings(info)).toEqual([
      "$.Host_Name: field name suggests personal data",
      "$.nested.lib: holds a path under a home directory",
    ]);
    const clean = redactPersonalData(info);
    expect(clean).toEqual({ kind: "cpu", nested: { lib: "<redacted path>", threads: 4 } });
    expect(personalDataFindings(clean)).toEqual([]);
  });
});
