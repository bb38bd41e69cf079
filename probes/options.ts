// Option values arrive from clipanion as strings; they are checked here with valibot so that a
// bad value gives ONE line naming the option and the rule, and exit code 2.
import * as v from "valibot";

/** A bad option value. `message` is the whole line to print: "--evals: must be an integer in 1..100000 (got "0")". */
export class OptionError extends Error {}

type Schema<T> = v.GenericSchema<unknown, T>;

const INT = /^[+-]?\d+$/;

/** An integer option in [min, max]. */
export function intOption(option: string, min: number, max: number): Schema<number> {
  const rule = `must be an integer in ${min}..${max}`;
  return v.pipe(
    v.string(`${option}: ${rule}`),
    v.regex(INT, (issue) => `${option}: ${rule} (got "${issue.input}")`),
    v.transform(Number),
    v.minValue(min, (issue) => `${option}: ${rule} (got ${issue.input})`),
    v.maxValue(max, (issue) => `${option}: ${rule} (got ${issue.input})`),
  );
}

/** A comma-separated list of integers in [min, max], 1..maxCount entries, no duplicates. */
export function intListOption(option: string, min: number, max: number, maxCount: number): Schema<number[]> {
  const rule = `must be a comma-separated list of 1..${maxCount} distinct integers in ${min}..${max}`;
  return v.pipe(
    v.string(`${option}: ${rule}`),
    v.check((s) => s.split(",").every((part) => INT.test(part.trim())), (issue) => `${option}: ${rule} (got "${issue.input}")`),
    v.transform((s) => s.split(",").map((part) => Number(part.trim()))),
    v.check((xs) => xs.every((x) => x >= min && x <= max), (issue) => `${option}: ${rule} (got ${issue.input.join(",")})`),
    v.check((xs) => xs.length >= 1 && xs.length <= maxCount, (issue) => `${option}: ${rule} (got ${issue.input.length} values)`),
    v.check((xs) => new Set(xs).size === xs.length, (issue) => `${option}: ${rule} (got duplicates in ${issue.input.join(",")})`),
  );
}

/** One of a fixed set of words. */
export function choiceOption<const T extends string>(option: string, choices: readonly T[]): Schema<T> {
  return v.picklist(choices, (issue) => `${option}: must be one of ${choices.join(", ")} (got "${issue.input}")`);
}

/** Parse raw option strings with a valibot object schema; throws OptionError with the first issue. */
export function parseOptions<T>(schema: Schema<T>, raw: Record<string, unknown>): T {
  const res = v.safeParse(schema, raw, { abortEarly: true });
  if (res.success) return res.output;
  throw new OptionError(res.issues[0].message);
}

/** A comma-separated list of 1..maxCount "AxBxC" triples, each number in [min, max]. */
export function tripleListOption(option: string, min: number, max: number, maxCount: number): Schema<Array<[number, number, number]>> {
  const rule = `must be a comma-separated list of 1..${maxCount} ICxOCxS triples of integers in ${min}..${max}`;
  const TRIPLE = /^\d+x\d+x\d+$/;
  return v.pipe(
    v.string(`${option}: ${rule}`),
    v.check((s) => s.split(",").every((part) => TRIPLE.test(part.trim())), (issue) => `${option}: ${rule} (got "${issue.input}")`),
    v.transform((s) => s.split(",").map((part) => part.trim().split("x").map(Number) as [number, number, number])),
    v.check((ts) => ts.every((t) => t.every((x) => x >= min && x <= max)), (issue) => `${option}: ${rule} (got ${issue.input.map((t) => t.join("x")).join(",")})`),
    v.check((ts) => ts.length >= 1 && ts.length <= maxCount, (issue) => `${option}: ${rule} (got ${issue.input.length} triples)`),
  );
}
