// The community table: result documents from many machines (single probe documents or `probe
// all` sets) rendered as one row per machine, backend and chip profile, like the cross-chip
// benchmark report of maderix/ANE. Every input is validated against its schema first; a file
// that is not valid JSON or not a rustane result is an error naming the file.
import { basename } from "node:path";
import { SCHEMA_ID, SET_SCHEMA_ID, validateDocument, validateProbeSet, type ProbeDocument } from "./schema.ts";

export const REPORT_SCHEMA_ID = "rustane.report/1";

export interface ReportRow {
  cpu_model: string;
  os: string;
  os_release: string;
  memory_gb: number;
  backend: string;
  chip: string;
  rustane: string;                    // rustane version(s) of the documents, comma-separated
  peak_tflops: number | null;         // peak: best TFLOPS
  pct_of_peak: number | null;         // of that best configuration
  dispatch_ms: number | null;         // inmem-bench: smallest median ms/eval
  qos: string | null;                 // qos-sweep: "all match" | "differ" | "failures", with the spread
  weight_reload: string | null;       // weight-reload: baked and dynamic outcomes
  dynamic_gflops: number | null;      // dynamic-matmul: best GFLOP/s (eval only)
  dynamic_correct: boolean | null;
  int8_ratio: number | null;          // int8: W8A8 TOPS / fp16 TOPS
  int8_applicable: boolean | null;    // false where the chip's dialect has no quantize ops
  sram_cliff_mb: number | null;       // sram: weights MB of the cliff
  sram_cliff: string | null;          // "at N MB" | "none up to N MB"
  hw_time: boolean | null;            // perf-stats: did evals report a device time
  sources: string[];                  // the names (no folders) of the files the row came from
}

/** An input that is not a rustane result; message names the file. */
export class ReportInputError extends Error {}

/** Every probe document in one file's text (a set gives all of its documents). */
export function documentsOf(file: string, text: string): ProbeDocument[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ReportInputError(`${file}: not valid JSON (${(e as Error).message}); pass the files written by \`rustane probe ... --json\``);
  }
  const schema = value !== null && typeof value === "object" ? (value as Record<string, unknown>)["schema"] : undefined;
  if (schema === SET_SCHEMA_ID) {
    const problems = validateProbeSet(value);
    if (problems.length > 0) throw new ReportInputError(`${file}: does not match ${SET_SCHEMA_ID}: ${problems.slice(0, 3).join("; ")}`);
    return (value as { documents: ProbeDocument[] }).documents;
  }
  if (schema === SCHEMA_ID) {
    const problems = validateDocument(value);
    if (problems.length > 0) throw new ReportInputError(`${file}: does not match ${SCHEMA_ID}: ${problems.slice(0, 3).join("; ")}`);
    return [value as ProbeDocument];
  }
  throw new ReportInputError(
    `${file}: not a rustane probe result (its "schema" is ${JSON.stringify(schema ?? null)}; expected "${SCHEMA_ID}" or "${SET_SCHEMA_ID}")`);
}

function groupKey(doc: ProbeDocument): string {
  const m = doc.machine;
  return [m.cpu_model, m.os, m.os_release, m.memory_gb, doc.backend.kind, String(doc.parameters["chip"])].join("\u0000");
}

/** The latest document of a probe in a group (by started_at). */
function latest<N extends ProbeDocument["probe"]>(docs: ProbeDocument[], probe: N): Extract<ProbeDocument, { probe: N }> | null {
  const of = docs.filter((d) => d.probe === probe).sort((a, b) => a.started_at.localeCompare(b.started_at));
  return (of[of.length - 1] as Extract<ProbeDocument, { probe: N }>) ?? null;
}

function row(docs: ProbeDocument[], sources: string[]): ReportRow {
  const first = docs[0];
  const peak = latest(docs, "peak");
  const inmem = latest(docs, "inmem-bench");
  const qos = latest(docs, "qos-sweep");
  const reload = latest(docs, "weight-reload");
  const dyn = latest(docs, "dynamic-matmul");
  const i8 = latest(docs, "int8");
  const sram = latest(docs, "sram");
  const perf = latest(docs, "perf-stats");

  let bestPeak: { tflops: number | null; pct_of_peak: number | null } | null = null;
  for (const r of peak?.results.rows ?? []) if (r.tflops !== null && (bestPeak === null || r.tflops > bestPeak.tflops!)) bestPeak = r;

  let qosWords: string | null = null;
  if (qos) {
    const r = qos.results;
    const spread = `spread ${(r.eval_median_spread * 100).toFixed(0)}%`;
    qosWords = r.all_match ? `${r.levels.length} levels match, ${spread}`
      : r.levels.some((l) => l.error !== null) ? `${r.levels.filter((l) => l.error !== null).length} of ${r.levels.length} levels fail`
      : `outputs differ, ${spread}`;
  }
  let reloadWords: string | null = null;
  if (reload) {
    const { baked, dynamic } = reload.results;
    reloadWords = `baked ${baked.output === "unchanged" ? "ignored" : "reloaded"}, dynamic ${dynamic.within_tolerance ? "works" : dynamic.output === "unchanged" ? "ignored" : "wrong"}`;
  }
  let cliffWords: string | null = null;
  if (sram) {
    const ran = sram.results.rows.filter((r) => r.gflops !== null);
    cliffWords = sram.results.cliff_at_mb !== null ? `at ${sram.results.cliff_at_mb.toFixed(1)} MB`
      : ran.length > 0 ? `none up to ${ran[ran.length - 1].weights_mb.toFixed(1)} MB` : "no size ran";
  }
  return {
    cpu_model: first.machine.cpu_model,
    os: first.machine.os,
    os_release: first.machine.os_release,
    memory_gb: first.machine.memory_gb,
    backend: first.backend.kind,
    chip: String(first.parameters["chip"]),
    rustane: [...new Set(docs.map((d) => d.rustane.version))].sort().join(", "),
    peak_tflops: bestPeak?.tflops ?? null,
    pct_of_peak: bestPeak?.pct_of_peak ?? null,
    dispatch_ms: inmem?.results.dispatch_ms ?? null,
    qos: qosWords,
    weight_reload: reloadWords,
    dynamic_gflops: dyn?.results.best_gflops ?? null,
    dynamic_correct: dyn ? dyn.results.all_correct : null,
    int8_ratio: i8?.results.ratio ?? null,
    int8_applicable: i8 ? i8.results.applicable : null,
    sram_cliff_mb: sram?.results.cliff_at_mb ?? null,
    sram_cliff: cliffWords,
    hw_time: perf ? perf.results.hw_time.with_hw_time > 0 : null,
    sources,
  };
}

/** One row per (machine, backend, chip), sorted by CPU model, backend and chip. */
export function buildReport(files: Array<{ file: string; text: string }>): ReportRow[] {
  const groups = new Map<string, { docs: ProbeDocument[]; sources: Set<string> }>();
  for (const { file, text } of files) {
    for (const doc of documentsOf(file, text)) {
      const key = groupKey(doc);
      const g = groups.get(key) ?? { docs: [], sources: new Set<string>() };
      g.docs.push(doc);
      g.sources.add(basename(file));
      groups.set(key, g);
    }
  }
  const rows = [...groups.values()].map((g) => row(g.docs, [...g.sources]));
  return rows.sort((a, b) => a.cpu_model.localeCompare(b.cpu_model) || a.backend.localeCompare(b.backend) || a.chip.localeCompare(b.chip));
}

function num(value: number | null, digits: number): string {
  return value === null ? "–" : value.toFixed(digits);
}

/** The community table in Markdown. */
export function renderMarkdown(rows: ReportRow[]): string {
  const headers = ["Machine", "OS (kernel)", "Backend", "Chip", "Peak TFLOPS", "% of peak", "Dispatch ms", "QoS",
    "Weight reload", "Dynamic matmul GFLOP/s", "int8/fp16", "SRAM cliff", "HW time"];
  const cell = (s: string) => s.replace(/\|/g, "\\|");
  const lines = [
    `| ${headers.join(" | ")} |`,
    `|${headers.map((_, i) => (i >= 4 && i <= 6 || i === 9 || i === 10 ? "---:" : "---")).join("|")}|`,
    ...rows.map((r) => `| ${[
      `${r.cpu_model}, ${r.memory_gb} GB`, `${r.os} ${r.os_release}`, r.backend, r.chip,
      num(r.peak_tflops, 3), num(r.pct_of_peak, 1), num(r.dispatch_ms, 3), r.qos ?? "–", r.weight_reload ?? "–",
      r.dynamic_gflops === null ? "–" : `${num(r.dynamic_gflops, 1)}${r.dynamic_correct ? "" : " (WRONG)"}`,
      r.int8_applicable === false ? "n/a" : num(r.int8_ratio, 2), r.sram_cliff ?? "–", r.hw_time === null ? "–" : r.hw_time ? "yes" : "no",
    ].map(cell).join(" | ")} |`),
  ];
  return lines.join("\n") + "\n\n" +
    "Peak: best TFLOPS of the peak probe (% of the chip's published fp16 peak; of the CPU's fp32 estimate on the cpu backend). " +
    "Dispatch: the smallest ms/eval of inmem-bench. int8/fp16: W8A8 TOPS over fp16 TFLOPS of the same conv chain. " +
    "SRAM cliff: the weight size where GFLOP/s drops more than 30% below the best of the smaller sizes. " +
    "– : no document for that probe.\n";
}

export function renderJson(rows: ReportRow[]): string {
  return JSON.stringify({ schema: REPORT_SCHEMA_ID, rows }, null, 2) + "\n";
}
