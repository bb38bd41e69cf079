// perf-stats: which performance-statistics objects and fields exist on this device, and does
// an eval report a non-zero hardware time? The first part is libane's "perf-stats" query
// (ane_backend_query_json: the ane backend looks up _ANEPerformanceStats and friends); the
// second is measured here on every backend: N evals of one small conv, counting those whose
// timing carried a device time. On the M4 Max (macOS 26) the stats object existed but
// hwExecutionTime read 0 (libane reports that as "no device time").
import * as v from "valibot";
import { Binding, type ProbeDefinition } from "./context.ts";
import { intOption } from "./options.ts";
import { conv1x1Program, patternInput, patternMatrix } from "./programs.ts";
import { askBackend, bool, listOf, str } from "./query-answer.ts";
import type { PerfStatsResults } from "./schema.ts";
import { timingStats } from "./stats.ts";
import { fmt, formatTable } from "./table.ts";

export const PerfStatsParams = v.object({
  evals: intOption("--evals", 1, 100000),
  channels: intOption("--channels", 1, 16384),
  spatial: intOption("--spatial", 1, 16384),
});
export type PerfStatsParams = v.InferOutput<typeof PerfStatsParams>;
export const PERF_STATS_DEFAULTS = { evals: "20", channels: "256", spatial: "64" };

const KNOWN_KEYS = new Set(["objects", "measurement"]);
const MEASUREMENT_KEYS = ["program", "evals", "stats_attached", "hw_ns", "mask_set", "mask", "mask_read_back",
  "hw_ns_with_mask", "hw_time_nonzero", "error"] as const;

/** The ane backend's measurement object, every expected key present (null when it gave none). */
function deviceMeasurement(body: Record<string, unknown>): PerfStatsResults["device_measurement"] {
  const m = body["measurement"];
  if (!m || typeof m !== "object") return null;
  const rec = m as Record<string, unknown>, out: Record<string, unknown> = {};
  for (const k of MEASUREMENT_KEYS) out[k] = rec[k] ?? null;
  return out as PerfStatsResults["device_measurement"];
}

export const perfStats: ProbeDefinition<PerfStatsParams, PerfStatsResults> = {
  name: "perf-stats",
  description: "which performance-statistics objects and fields exist, and whether evals report a hardware time",

  run(ctx, p) {
    const answer = askBackend(ctx.backend, "perf-stats");
    const objects = listOf("perf-stats", answer.body, "objects", (o, where) => ({
      name: str(o, "name", where),
      exists: bool(o, "exists", where),
      fields: listOf("perf-stats", o, "fields", (f, w) => ({ name: str(f, "name", `${where} ${w}`), exists: bool(f, "exists", `${where} ${w}`) })),
    }));
    const ignored = Object.keys(answer.body).filter((k) => !KNOWN_KEYS.has(k));

    const { channels: c, spatial: s } = p;
    const { text, weights } = conv1x1Program(ctx.dialect, c, s, patternMatrix(c, c, 5, 3, 17, 64));
    using program = ctx.backend.compile(text, { weights, chip: ctx.chip });
    program.load();
    using bind = new Binding(ctx.backend, program);
    bind.write(0, patternInput(c, s));
    const timings = bind.evalMany(p.evals, 1);
    const hw = timings.map((t) => t.hwMs).filter((ms): ms is number => ms !== null && ms > 0);
    const hwTime = {
      evals: timings.length, with_hw_time: hw.length,
      hw_ms: hw.length > 0 ? timingStats(hw) : null, wall_ms: timingStats(timings.map((t) => t.wallMs)),
    };

    const found = objects.filter((o) => o.exists);
    const parts = [
      answer.applicable
        ? `${found.length} of ${objects.length} stats objects exist` + (found.length > 0 ? ` (${found.map((o) => o.name).join(", ")})` : "")
        : "stats objects: not applicable",
      hw.length === timings.length ? "every eval reported a hardware time"
      : hw.length === 0 ? "no eval reported a hardware time" : `${hw.length} of ${timings.length} evals reported a hardware time`,
    ];
    const notes = ["hardware time: the device's own execution time per eval, as libane's EvalTiming.hwMs reports it (0 counts as none)"];
    if (!answer.applicable) notes.push(`stats objects not applicable: ${answer.reason ?? "no reason given"}`);
    if (ignored.length > 0) notes.push(`libane's answer had keys this probe does not know: ${ignored.join(", ")}`);
    return {
      results: { applicable: answer.applicable, reason: answer.reason, objects, ignored_keys: ignored,
        device_measurement: deviceMeasurement(answer.body), hw_time: hwTime },
      verdict: parts.join("; "),
      notes,
    };
  },

  table(r) {
    const head = r.applicable
      ? formatTable(["object", "exists", "fields present", "fields missing"], r.objects.map((o) => [
        o.name, o.exists ? "yes" : "no",
        o.fields.filter((f) => f.exists).map((f) => f.name).join(" ") || "-",
        o.fields.filter((f) => !f.exists).map((f) => f.name).join(" ") || "-",
      ]))
      : `stats objects: not applicable (${r.reason ?? "no reason given"})\n`;
    const t = r.hw_time;
    return head + "\n" + formatTable(["evals", "with hw time", "hw ms (median)", "wall ms (median)"],
      [[t.evals, t.with_hw_time, fmt(t.hw_ms?.median ?? null), fmt(t.wall_ms.median)]]);
  },
};
