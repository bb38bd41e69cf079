// Summaries of repeated timings: median and p90 (nearest rank), min, max.
import type { EvalTiming } from "../src/ffi/index.ts";
import type { EvalStats, TimingStats } from "./schema.ts";

/** Nearest-rank percentile (q in (0, 1]) of a non-empty list. */
export function percentile(values: number[], q: number): number {
  if (values.length === 0) throw new Error("percentile: no values");
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1];
}

/** Median; for an even count the mean of the two middle values. */
export function median(values: number[]): number {
  if (values.length === 0) throw new Error("median: no values");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function timingStats(values: number[]): TimingStats {
  return {
    median: median(values),
    p90: percentile(values, 0.9),
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

/** Stats of a run of evals: wall always; hw only when every eval reported a device time. */
export function evalStats(timings: EvalTiming[]): EvalStats {
  const hw = timings.map((t) => t.hwMs);
  const allHw = hw.every((ms): ms is number => ms !== null);
  return {
    count: timings.length,
    wall_ms: timingStats(timings.map((t) => t.wallMs)),
    hw_ms: allHw ? timingStats(hw as number[]) : null,
  };
}
