/**
 * Training telemetry: one JSON object per line, one schema (validated by the tests and by
 * anything that reads the file). Written to <run dir>/telemetry.jsonl and, on request, to
 * stderr. Records: "start" (the run's setup), "step" (every logged optimizer step), "val"
 * (every validation), "checkpoint" (every file written), "end".
 */
import * as v from "valibot";
import { appendFileSync } from "node:fs";

const Ms = v.record(v.string(), v.number());

export const StartRecord = v.object({
  type: v.literal("start"), time: v.string(), rustane: v.string(), model: v.string(), params: v.number(),
  backend: v.string(), chip: v.nullable(v.string()), numerics: v.picklist(["fp16", "fp32"]), seq: v.number(),
  micro_batches: v.number(), data: v.string(), vocab_compacted: v.number(), compile_ms: v.number(), run_dir: v.string(),
});

export const StepRecord = v.object({
  type: v.literal("step"), step: v.number(), loss: v.number(), lr: v.number(), loss_scale: v.number(),
  grad_norm: v.nullable(v.number()), skipped: v.boolean(), tokens_per_s: v.number(), ms_per_step: v.number(),
  kernel_ms: Ms, host_ms: Ms, stage_ms: v.number(), dw_wait_ms: v.number(),
  device_tflops: v.number(), total_tflops: v.number(), rss_mb: v.number(),
});

export const ValRecord = v.object({
  type: v.literal("val"), step: v.number(), val_loss: v.number(), val_bpb: v.nullable(v.number()), best_val_loss: v.number(),
});

export const CheckpointRecord = v.object({ type: v.literal("checkpoint"), step: v.number(), path: v.string(), kind: v.picklist(["latest", "best"]) });

export const EndRecord = v.object({ type: v.literal("end"), step: v.number(), wall_s: v.number(), final_loss: v.number() });

export const TelemetryRecord = v.variant("type", [StartRecord, StepRecord, ValRecord, CheckpointRecord, EndRecord]);
export type TelemetryRecord = v.InferOutput<typeof TelemetryRecord>;

export class Telemetry {
  constructor(private readonly path: string, private readonly toStderr: boolean) {}
  emit(record: TelemetryRecord): void {
    const line = JSON.stringify(record) + "\n";
    appendFileSync(this.path, line);
    if (this.toStderr) process.stderr.write(line);
  }
}
