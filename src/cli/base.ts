// The base of every rustane command: one clear line on stderr for any failure, never a stack trace.
//   exit 0  success
//   exit 1  the work failed (a program with errors, a libane failure, a file that cannot be written)
//   exit 2  usage: a bad option value, a missing input file
import { Command } from "clipanion";
import { LibaneError } from "../ffi/index.ts";

/** A failure with its exit code; message is the whole line to print. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: 1 | 2 = 1) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

export function usageError(message: string): CliError {
  return new CliError(message, 2);
}

/** The line printed for an error thrown out of a command. */
export function describeError(e: unknown): { line: string; exitCode: number } {
  if (e instanceof CliError) return { line: e.message, exitCode: e.exitCode };
  if (e instanceof LibaneError) return { line: `${e.message} [${e.statusName}]`, exitCode: 1 };
  if (e instanceof Error) {
    // Option validators (valibot, see probes/options.ts) throw errors whose message is the usage line.
    const usage = e.name === "OptionError" || e.constructor.name === "OptionError";
    return { line: e.message, exitCode: usage ? 2 : 1 };
  }
  return { line: String(e), exitCode: 1 };
}

export abstract class RustaneCommand extends Command {
  /** The command's work; returns the exit code. Throw CliError (or any Error) to fail with one line. */
  abstract run(): Promise<number>;

  async execute(): Promise<number> {
    try {
      return await this.run();
    } catch (e) {
      const { line, exitCode } = describeError(e);
      this.context.stderr.write(`rustane: ${line.trim()}\n`);
      return exitCode;
    }
  }
}

/** Parses a non-negative integer option value, or fails with a usage error naming the option. */
export function parseCount(option: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw usageError(`${option}: must be a non-negative integer (got "${value}")`);
  }
  return Number(value);
}

/** Parses a number option value within bounds (and integral when asked), or fails with a usage
 *  error naming the option and the rule. */
export function parseNumber(option: string, value: string | undefined, fallback: number,
                            o: { int?: boolean; min?: number; max?: number } = {}): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) throw usageError(`${option}: must be a number (got "${value}")`);
  if (o.int && !Number.isInteger(n)) throw usageError(`${option}: must be an integer (got "${value}")`);
  if (o.min !== undefined && n < o.min) throw usageError(`${option}: must be >= ${o.min} (got ${value})`);
  if (o.max !== undefined && n > o.max) throw usageError(`${option}: must be <= ${o.max} (got ${value})`);
  return n;
}

/** Checks that an option value is one of `choices`. */
export function parseChoice<T extends string>(option: string, value: string | undefined, choices: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) {
    throw usageError(`${option}: must be one of ${choices.join(", ")} (got "${value}")`);
  }
  return value as T;
}
