// What every probe shares: opening the backend, choosing the chip profile and MIL dialect,
// binding surfaces to a program, and wrapping a probe's results into a validated document.
import pkg from "../package.json" with { type: "json" };
import {
  abiVersion, chipNames, chipDialect, libaneVersion, openBackend,
  type Backend, type EvalTiming, type Program, type Request, type Surface,
} from "../src/ffi/index.ts";
import type { Dialect } from "../src/mil/index.ts";
import { machineInfo } from "./machine.ts";
import { OptionError } from "./options.ts";
import { redactPersonalData, SCHEMA_ID, validateDocument, type ProbeDocument } from "./schema.ts";

export type BackendChoice = "cpu" | "ane" | "auto";
export const BACKEND_CHOICES: readonly BackendChoice[] = ["cpu", "ane", "auto"];

/** What a probe gets to work with. */
export interface ProbeContext {
  backend: Backend;
  chip: string;                       // the chip profile programs are compiled for
  dialect: Dialect;                   // the MIL dialect that chip's compiler accepts
  info: Record<string, unknown>;      // backend.info()
}

/** What a probe hands back. */
export interface ProbeOutcome<R> {
  results: R;
  verdict: string;
  notes: string[];
}

export interface ProbeDefinition<P extends object, R> {
  name: ProbeDocument["probe"];
  description: string;                // one line, for `rustane probe list`
  run(ctx: ProbeContext, params: P): ProbeOutcome<R>;
  table(results: R): string;          // the human-readable form of results
}

/** Surfaces sized for every input and output of a program, and the request binding them. */
export class Binding implements Disposable {
  readonly inputs: Surface[];
  readonly outputs: Surface[];
  readonly request: Request;

  constructor(backend: Backend, readonly program: Program) {
    this.inputs = program.inputs.map((io) => backend.createSurface(io.bytes));
    this.outputs = program.outputs.map((io) => backend.createSurface(io.bytes));
    this.request = program.request(this.inputs, this.outputs);
  }

  write(index: number, data: Float32Array): void {
    this.inputs[index].write(this.program.inputs[index], data);
  }

  read(index = 0): Float32Array {
    return this.outputs[index].read(this.program.outputs[index]);
  }

  /** `warmup` untimed evals, then `count` timed ones. */
  evalMany(count: number, warmup: number, qos?: number): EvalTiming[] {
    for (let i = 0; i < warmup; i++) this.request.eval(qos);
    const timings: EvalTiming[] = [];
    for (let i = 0; i < count; i++) timings.push(this.request.eval(qos));
    return timings;
  }

  [Symbol.dispose](): void {
    this.request.free();
    for (const s of [...this.inputs, ...this.outputs]) s.release();
  }
}

/** Milliseconds taken by fn (host clock: compile, load and unload report no timing of their own). */
export function timeMs(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

/** Largest |a[i] - b[i]|; null when any element of either is NaN or infinite (JSON has no NaN). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number | null {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths differ (${a.length} vs ${b.length})`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!Number.isFinite(d)) return null;
    if (d > m) m = d;
  }
  return m;
}

/** True when two outputs are identical element for element (fp16 values read back as fp32). */
export function sameOutput(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

export interface CommonOptions {
  backend: BackendChoice;
  chip?: string;
}

/** Open the backend, run the probe, and wrap its outcome into a document that has passed the
 *  schema. Throws OptionError for an unknown --chip, Error/LibaneError for failures. */
export function runProbe<P extends object, R>(def: ProbeDefinition<P, R>, common: CommonOptions, params: P): ProbeDocument {
  if (common.chip !== undefined && !chipNames().includes(common.chip)) {
    throw new OptionError(`--chip: must be one of ${chipNames().join(", ")} (got "${common.chip}")`);
  }
  const startedAt = new Date();
  const t0 = performance.now();
  using backend = openBackend(common.backend);
  const info = backend.info();
  const chip = common.chip ?? backend.defaultChip();
  const ctx: ProbeContext = { backend, chip, dialect: chipDialect(chip), info };
  const outcome = def.run(ctx, params);

  const notes = [...outcome.notes];
  if (backend.kind === "cpu") {
    notes.push("cpu backend: timings are of rustane's ANE-faithful CPU executor, not of a Neural Engine");
  }
  const doc = {
    schema: SCHEMA_ID,
    rustane: { version: pkg.version, libane: libaneVersion(), abi: abiVersion() },
    backend: { ...(redactPersonalData(info) as Record<string, unknown>), kind: backend.kind },
    machine: machineInfo(),
    probe: def.name,
    parameters: { backend: common.backend, chip, dialect: ctx.dialect, ...params },
    started_at: startedAt.toISOString(),
    duration_ms: performance.now() - t0,
    results: outcome.results,
    verdict: outcome.verdict,
    notes,
  };
  const problems = validateDocument(doc);
  if (problems.length > 0) {
    throw new Error(`internal error: the ${def.name} result document does not match schema ${SCHEMA_ID}: ${problems.join("; ")}`);
  }
  return doc as ProbeDocument;
}
