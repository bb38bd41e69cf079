// advanced: which of the runtime's less-used paths exist here and which work: shared events
// (completion signalling between ANE programs and Metal), weightsBuffer (weights passed with
// the request instead of compiled in), procedureIndex (several functions in one program),
// chaining (one program's output surface fed to the next without the host), real-time
// evaluation and direct evaluation (the evaluate paths that skip the daemon). libane's ane
// backend answers the "advanced" query (ane_backend_query_json); this probe checks the answer,
// lists what is missing from it, and prints it. On the cpu backend none of these exist.
import * as v from "valibot";
import type { ProbeDefinition } from "./context.ts";
import { askBackend, bool, listOf, nullableBool, nullableStr, str } from "./query-answer.ts";
import { ADVANCED_FEATURES, type AdvancedResults } from "./schema.ts";
import { formatTable } from "./table.ts";

export const AdvancedParams = v.object({});
export type AdvancedParams = v.InferOutput<typeof AdvancedParams>;

const KNOWN_KEYS = new Set(["features"]);

export const advanced: ProbeDefinition<AdvancedParams, AdvancedResults> = {
  name: "advanced",
  description: "shared events, weightsBuffer, procedureIndex, chaining, real-time and direct eval: what exists, what works",

  run(ctx) {
    const answer = askBackend(ctx.backend, "advanced");
    const features = listOf("advanced", answer.body, "features", (o, where) => ({
      name: str(o, "name", where),
      exists: bool(o, "exists", where),
      works: nullableBool(o, "works", where),
      detail: nullableStr(o, "detail", where),
    }));
    const ignored = Object.keys(answer.body).filter((k) => !KNOWN_KEYS.has(k));
    const covered = new Set(features.map((f) => f.name));
    const missing = answer.applicable ? ADVANCED_FEATURES.filter((f) => !covered.has(f)) : [];

    let verdict: string;
    if (!answer.applicable) {
      verdict = `not applicable on the ${ctx.backend.kind} backend`;
    } else {
      const works = features.filter((f) => f.works === true).map((f) => f.name);
      const fails = features.filter((f) => f.works === false).map((f) => f.name);
      const exists = features.filter((f) => f.exists).length;
      verdict = `${exists} of ${features.length} exist; works: ${works.join(", ") || "none"}; fails: ${fails.join(", ") || "none"}`;
    }
    const notes = ["exists: the classes and selectors the feature needs are present; works: libane tried it (null: not tried)"];
    if (!answer.applicable) notes.push(`not applicable: ${answer.reason ?? "no reason given"}`);
    if (missing.length > 0) notes.push(`libane's answer does not cover: ${missing.join(", ")}`);
    if (ignored.length > 0) notes.push(`libane's answer had keys this probe does not know: ${ignored.join(", ")}`);
    return {
      results: { applicable: answer.applicable, reason: answer.reason, features, missing, ignored_keys: ignored },
      verdict: verdict.slice(0, 160),
      notes,
    };
  },

  table(r) {
    if (!r.applicable) return `not applicable (${r.reason ?? "no reason given"})\n`;
    const word = (b: boolean | null) => (b === null ? "not tried" : b ? "yes" : "no");
    return formatTable(["feature", "exists", "works", "detail"], [
      ...r.features.map((f) => [f.name, f.exists ? "yes" : "no", word(f.works), f.detail ?? "-"]),
      ...r.missing.map((name) => [name, "not reported", "-", "-"]),
    ]);
  },
};
