// The MIL front end's checker: findings against a chip profile, without compiling.
import { lib, callJson, parseJson, failure, ANE_ERR_BUFFER_TOO_SMALL } from "./library.ts";
import { marshalWeights } from "./weights.ts";
import type { Finding, WeightMap } from "./types.ts";
import { cbuf } from "./library.ts";

function toFinding(raw: unknown): Finding {
  const f = (raw ?? {}) as Record<string, unknown>;
  return {
    severity: f.severity === "warning" ? "warning" : "error",
    rule: typeof f.rule === "string" && f.rule !== "" ? f.rule : null,
    line: typeof f.line === "number" ? f.line : 0,
    column: typeof f.column === "number" ? f.column : 0,
    message: typeof f.message === "string" ? f.message : String(f.message ?? ""),
  };
}

/** Checks MIL text against a chip profile (default: libane's). ok = no errors (warnings allowed).
 *  Throws LibaneError only when the check itself could not run (e.g. an unknown chip). */
export function milCheck(mil: string, opts: { weights?: WeightMap; chip?: string } = {}): { ok: boolean; findings: Finding[] } {
  const text = Buffer.from(mil + "\0", "utf8");
  const w = marshalWeights(opts.weights);
  const chip = opts.chip ? cbuf(opts.chip) : null;
  const what = `checking MIL${opts.chip ? ` for chip ${opts.chip}` : ""}`;
  // Any status but BUFFER_TOO_SMALL comes with the findings written.
  const { status, text: json } = callJson(
    what,
    (buf, cap, needed) => lib().ane_mil_check(text, text.length - 1, w.table, w.count, chip, buf, cap, needed),
    (s) => s !== ANE_ERR_BUFFER_TOO_SMALL,
  );
  void w.keepAlive;
  // A failure with no error finding means the check could not run: report libane's message.
  const lastError = status === 0 ? null : failure(status, what);
  let parsed: unknown = null;
  try {
    parsed = json === "" ? null : JSON.parse(json);
  } catch {
    parsed = null;
  }
  if (!Array.isArray(parsed)) {
    if (lastError) throw lastError;
    parseJson(what, json); // throws with the bad text
    throw new Error(`${what}: libane returned ${json.slice(0, 100)} instead of a JSON array of findings`);
  }
  const findings = parsed.map(toFinding);
  const ok = status === 0;
  if (!ok && !findings.some((f) => f.severity === "error")) throw lastError!;
  return { ok, findings };
}
