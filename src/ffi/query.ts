// ane_backend_query_json: what a backend can tell the probes about the device beyond info()
// ("perf-stats": performance-statistics objects and fields; "advanced": shared events,
// weightsBuffer, procedureIndex, chaining, real-time and direct evaluation). The answer's keys
// are documented in docs/probes.md ("libane queries"); probes/ validates them.
import { backendHandle, type Backend } from "./backend.ts";
import { callJson, cbuf, lib, parseJson } from "./library.ts";

export type BackendQuery = "perf-stats" | "advanced";

/** The parsed answer: always {query, backend, applicable, ...}; {reason} when not applicable. */
export function queryBackend(backend: Backend, what: BackendQuery): Record<string, unknown> {
  const h = backendHandle(backend);
  const name = cbuf(what);
  const desc = `querying the ${backend.kind} backend for "${what}"`;
  const { text } = callJson(desc, (buf, cap, needed) => lib().ane_backend_query_json(h, name, buf, cap, needed));
  const answer = parseJson(desc, text);
  if (answer === null || typeof answer !== "object" || Array.isArray(answer)) {
    throw new Error(`${desc}: libane answered ${text.slice(0, 200)}, not a JSON object`);
  }
  return answer as Record<string, unknown>;
}
