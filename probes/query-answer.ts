// Reading libane's answers to ane_backend_query_json ("perf-stats", "advanced") into probe
// results. The ane backend is written separately from these probes, so an answer is checked
// here key by key: a key this probe does not know is kept by name in `ignored_keys` (so a
// tester's document shows it) instead of failing the whole probe, and a known key of the wrong
// type is an error naming the key.
import { queryBackend, type BackendQuery } from "../src/ffi/query.ts";
import type { Backend } from "../src/ffi/index.ts";

export interface Answer {
  applicable: boolean;
  reason: string | null;
  body: Record<string, unknown>;     // every key but query, backend, applicable and reason
}

const ENVELOPE_KEYS = new Set(["query", "backend", "applicable", "reason"]);

export function askBackend(backend: Backend, what: BackendQuery): Answer {
  const raw = queryBackend(backend, what);
  if (raw["query"] !== what) throw new Error(`libane answered query "${String(raw["query"])}" when asked "${what}"`);
  if (typeof raw["applicable"] !== "boolean") throw new Error(`libane's "${what}" answer has no boolean "applicable"`);
  const reason = raw["reason"];
  const body: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) if (!ENVELOPE_KEYS.has(key)) body[key] = value;
  return { applicable: raw["applicable"], reason: typeof reason === "string" ? reason : null, body };
}

/** body[key] as an array of objects, each checked by `item`; [] when absent. */
export function listOf<T>(what: string, body: Record<string, unknown>, key: string, item: (o: Record<string, unknown>, where: string) => T): T[] {
  const value = body[key];
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new Error(`libane's "${what}" answer: "${key}" must be an array`);
  return value.map((o, i) => {
    const where = `"${what}" answer ${key}[${i}]`;
    if (o === null || typeof o !== "object" || Array.isArray(o)) throw new Error(`libane's ${where} must be an object`);
    return item(o as Record<string, unknown>, where);
  });
}

export function str(o: Record<string, unknown>, key: string, where: string): string {
  const value = o[key];
  if (typeof value !== "string" || value === "") throw new Error(`libane's ${where}: "${key}" must be a non-empty string`);
  return value;
}

export function bool(o: Record<string, unknown>, key: string, where: string): boolean {
  const value = o[key];
  if (typeof value !== "boolean") throw new Error(`libane's ${where}: "${key}" must be true or false`);
  return value;
}

export function nullableBool(o: Record<string, unknown>, key: string, where: string): boolean | null {
  const value = o[key] ?? null;
  if (value !== null && typeof value !== "boolean") throw new Error(`libane's ${where}: "${key}" must be true, false or null`);
  return value;
}

export function nullableStr(o: Record<string, unknown>, key: string, where: string): string | null {
  const value = o[key] ?? null;
  if (value !== null && typeof value !== "string") throw new Error(`libane's ${where}: "${key}" must be a string or null`);
  return value;
}
