// `rustane probe all`: every probe with its defaults, one probe-set document holding every
// probe's document. On the device the probes run their reference sizes (the defaults each
// probe's command shows); on the cpu backend smaller ones, chosen so the whole set finishes in
// well under a minute on 2 cores (test/probes/all.test.ts times it). A probe that throws is
// recorded under `failures` and the others still run: a tester's file is never empty.
import pkg from "../package.json" with { type: "json" };
import * as v from "valibot";
import { abiVersion, libaneVersion, openBackend } from "../src/ffi/index.ts";
import { advanced, AdvancedParams } from "./advanced.ts";
import { runProbe, type CommonOptions, type ProbeDefinition } from "./context.ts";
import { dynamicMatmul, DYNAMIC_MATMUL_DEFAULTS, DynamicMatmulParams } from "./dynamic-matmul.ts";
import { inmemBench, INMEM_BENCH_DEFAULTS, InmemBenchParams } from "./inmem-bench.ts";
import { int8, INT8_DEFAULTS, Int8Params } from "./int8.ts";
import { machineInfo } from "./machine.ts";
import { parseOptions } from "./options.ts";
import { peak, PEAK_DEFAULTS, PeakParams } from "./peak.ts";
import { perfStats, PERF_STATS_DEFAULTS, PerfStatsParams } from "./perf-stats.ts";
import { qosSweep, QOS_SWEEP_DEFAULTS, QosSweepParams } from "./qos-sweep.ts";
import { SCHEMA_ID, SET_SCHEMA_ID, validateProbeSet, type ProbeDocument, type ProbeSet } from "./schema.ts";
import { sram, SRAM_DEFAULTS, SramParams } from "./sram.ts";
import { weightReload, WEIGHT_RELOAD_DEFAULTS, WeightReloadParams } from "./weight-reload.ts";

interface Entry {
  def: ProbeDefinition<any, unknown>;
  schema: v.GenericSchema<unknown, object>;
  reference: Record<string, string>;   // the device's sizes: each probe's own defaults
  small: Record<string, string>;       // the cpu backend's
}

// Measured on a 2-vCPU x86-64 VM: the whole small set took ~25 s (see docs/probes.md).
export const ALL_PROBES: Entry[] = [
  { def: qosSweep, schema: QosSweepParams, reference: QOS_SWEEP_DEFAULTS, small: { ...QOS_SWEEP_DEFAULTS, levels: "0,21,63", evals: "10", warmup: "2" } },
  { def: weightReload, schema: WeightReloadParams, reference: WEIGHT_RELOAD_DEFAULTS, small: WEIGHT_RELOAD_DEFAULTS },
  { def: peak, schema: PeakParams, reference: PEAK_DEFAULTS, small: { ...PEAK_DEFAULTS, channels: "256", depths: "16", evals: "10", warmup: "2" } },
  { def: perfStats, schema: PerfStatsParams, reference: PERF_STATS_DEFAULTS, small: { ...PERF_STATS_DEFAULTS, evals: "10" } },
  { def: advanced, schema: AdvancedParams, reference: {}, small: {} },
  { def: inmemBench, schema: InmemBenchParams, reference: INMEM_BENCH_DEFAULTS, small: { ...INMEM_BENCH_DEFAULTS, channels: "256,512,1024", evals: "5", warmup: "1" } },
  { def: sram, schema: SramParams, reference: SRAM_DEFAULTS, small: { ...SRAM_DEFAULTS, channels: "128,256,512,768,1024", evals: "5", warmup: "1" } },
  { def: dynamicMatmul, schema: DynamicMatmulParams, reference: DYNAMIC_MATMUL_DEFAULTS, small: { ...DYNAMIC_MATMUL_DEFAULTS, evals: "5", warmup: "1" } },
  { def: int8, schema: Int8Params, reference: INT8_DEFAULTS, small: { ...INT8_DEFAULTS, channels: "128", depth: "8", evals: "5", warmup: "1" } },
];

/** Run every probe; `progress` receives each probe's table as it finishes (for the text form). */
export function runAll(common: CommonOptions, progress: (text: string) => void = () => {}, entries: Entry[] = ALL_PROBES): ProbeSet {
  const startedAt = new Date();
  const t0 = performance.now();
  let kind: string;
  {
    using backend = openBackend(common.backend);
    kind = backend.kind;
  }
  const sizes = kind === "cpu" ? "small" : "reference";
  const documents: ProbeDocument[] = [];
  const failures: ProbeSet["failures"] = [];
  for (const entry of entries) {
    const name = entry.def.name;
    try {
      // The sizes are fixed strings above; a parse error here is a bug, reported as a failure.
      const params = parseOptions(entry.schema, sizes === "small" ? entry.small : entry.reference);
      const doc = runProbe(entry.def, common, params);
      documents.push(doc);
      progress(`== ${name}\n${entry.def.table(doc.results)}verdict: ${doc.verdict}\n\n`);
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      failures.push({ probe: name, error });
      progress(`== ${name}\nFAILED: ${error}\n\n`);
    }
  }
  const set = {
    schema: SET_SCHEMA_ID,
    probe_schema: SCHEMA_ID,
    rustane: { version: pkg.version, libane: libaneVersion(), abi: abiVersion() },
    machine: machineInfo(),
    backend: kind,
    sizes,
    started_at: startedAt.toISOString(),
    duration_ms: performance.now() - t0,
    documents,
    failures,
  };
  const problems = validateProbeSet(set);
  if (problems.length > 0) throw new Error(`internal error: the probe-set document does not match schema ${SET_SCHEMA_ID}: ${problems.join("; ")}`);
  return set as ProbeSet;
}
