// Chip profiles, the process-wide compile budget and the cpu backend's thread count.
import { lib, cstr, cbuf, check, callJson, parseJson } from "./library.ts";

/** Profile names: ["m1","m2","m3","m4","m5","none"]. */
export function chipNames(): string[] {
  const L = lib();
  return Array.from({ length: L.ane_chip_count() }, (_, i) => cstr(L.ane_chip_name(i)));
}

/** A chip profile and its rule table (ane_chip_profile_json), parsed. */
export function chipProfile(name: string): Record<string, unknown> {
  const what = `reading chip profile "${name}"`;
  const chip = cbuf(name);
  const { text } = callJson(what, (buf, cap, needed) => lib().ane_chip_profile_json(chip, buf, cap, needed));
  return parseJson(what, text) as Record<string, unknown>;
}

/** The MIL dialect rustane emits for a chip: its profile's preferred_dialect (M1/M2 compilers
 *  take only program(1.0)/ios16, later chips program(1.3)/ios18; ane-maderix.md §3.1). */
export function chipDialect(name: string): "ios18" | "ios16" {
  const d = chipProfile(name)["preferred_dialect"];
  if (d !== "ios16" && d !== "ios18") throw new Error(`chip profile "${name}" reports no preferred dialect`);
  return d;
}

/** Successful compiles so far in this process. */
export function compileCount(): number {
  return lib().ane_compile_count();
}

/** The chip's per-process compile budget; 0 = unlimited. */
export function compileLimit(chip: string): number {
  return lib().ane_compile_limit(cbuf(chip));
}

/** Threads for the cpu backend and host ops; 0 restores the default (online CPUs). */
export function setThreads(n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`setThreads: expected a non-negative integer, got ${n}`);
  check(lib().ane_set_threads(n), `setting ${n} threads`);
}

export function getThreads(): number {
  return lib().ane_get_threads();
}
