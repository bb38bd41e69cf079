// The result document every probe emits (schema "rustane.probe/1"): what testers send back.
//
// Every document is validated with ProbeDocumentSchema before it is printed or written, and the
// tests validate it again. Two kinds of checks:
//   - shape: every field present with the right type (strict objects: unknown fields are errors,
//     so a new field needs a schema change and a docs/probes.md entry);
//   - privacy: no field anywhere may be named like personal data (hostname, username, serial
//     number, home directory, ...) and no string may hold a path under a home directory.
//     Testers post these documents publicly; the machine section carries only what identifies
//     the hardware class (os, arch, cpu model, cores, memory).
import * as v from "valibot";

export const SCHEMA_ID = "rustane.probe/1";

// Field names that would identify a person or a single machine. Matched against every key of
// the document, at any depth, case-insensitively, ignoring "_" and "-".
const PERSONAL_KEYS = new Set([
  "host", "hostname", "computername", "nodename",
  "user", "username", "login", "owner", "email",
  "serial", "serialnumber", "uuid", "udid", "hardwareuuid", "macaddress", "ipaddress", "ip",
  "home", "homedir", "cwd", "path", "filepath", "filename", "dir", "directory",
]);

// Absolute paths under a user's home directory (macOS, Linux, Windows).
const HOME_PATH = /(^|[^A-Za-z0-9_])(\/Users\/|\/home\/|\/root\/|[A-Za-z]:\\Users\\)/;

function isPersonalKey(key: string): boolean {
  return PERSONAL_KEYS.has(key.toLowerCase().replace(/[_-]/g, ""));
}

/** A copy of `value` without personal-data fields, and with home-directory paths replaced by
 *  "<redacted path>". Applied to what libane reports about the backend before it goes into a
 *  document, so a new info field can never leak a tester's name. */
export function redactPersonalData(value: unknown): unknown {
  if (typeof value === "string") return HOME_PATH.test(value) ? "<redacted path>" : value;
  if (Array.isArray(value)) return value.map(redactPersonalData);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (!isPersonalKey(key)) out[key] = redactPersonalData(item);
    }
    return out;
  }
  return value;
}

/** Every personal-data finding in `value`, as "where: what" strings (empty when clean). */
export function personalDataFindings(value: unknown, where = "$"): string[] {
  const found: string[] = [];
  if (typeof value === "string") {
    if (HOME_PATH.test(value)) found.push(`${where}: holds a path under a home directory`);
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => found.push(...personalDataFindings(item, `${where}[${i}]`)));
  } else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      if (isPersonalKey(key)) {
        found.push(`${where}.${key}: field name suggests personal data`);
      }
      found.push(...personalDataFindings(item, `${where}.${key}`));
    }
  }
  return found;
}

const nonNegative = v.pipe(v.number(), v.finite(), v.minValue(0));
const positiveInt = v.pipe(v.number(), v.integer(), v.minValue(1));
const nonNegativeInt = v.pipe(v.number(), v.integer(), v.minValue(0));
// A difference or error between two tensors; null when either held a NaN or infinity.
const diff = v.nullable(nonNegative);

/** Summary of repeated timings in milliseconds. */
export const TimingStatsSchema = v.strictObject({
  median: nonNegative,
  p90: nonNegative,
  min: nonNegative,
  max: nonNegative,
});

/** Wall-clock stats always; device (hw) stats only when the backend reports them. */
export const EvalStatsSchema = v.strictObject({
  count: positiveInt,
  wall_ms: TimingStatsSchema,
  hw_ms: v.nullable(TimingStatsSchema),
});

// A level whose compile, load or eval failed keeps its place with `error` set and nulls elsewhere.
const QosLevelSchema = v.strictObject({
  qos: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(63)),
  compile_ms: v.nullable(nonNegative),
  load_ms: v.nullable(nonNegative),
  eval: v.nullable(EvalStatsSchema),
  matches_first: v.boolean(),      // output bit-identical to the first working level's output
  max_abs_diff_vs_first: diff,
  error: v.nullable(v.string()),
});

const QosSweepResultsSchema = v.strictObject({
  flop_per_eval: positiveInt,
  levels: v.pipe(v.array(QosLevelSchema), v.minLength(1)),
  all_match: v.boolean(),
  eval_median_spread: nonNegative, // (max - min) / min of the per-level wall medians
});

const SampleSchema = v.strictObject({ o: nonNegativeInt, s: nonNegativeInt, value: v.nullable(v.number()) }); // null: not finite

const WeightReloadResultsSchema = v.strictObject({
  baked: v.strictObject({
    dim: positiveInt,
    spatial: positiveInt,
    weight_name: v.string(),
    compile_ms: nonNegative,
    load_ms: nonNegative,
    unload_ms: nonNegative,
    rewrite_ms: nonNegative,
    reload_ms: nonNegative,
    eval_before: EvalStatsSchema,
    eval_after: EvalStatsSchema,
    before_max_abs_error_vs_a: diff, // output with W_A vs the float64 W_Aᵀx
    after_max_abs_diff_vs_a: diff,   // output after the reload vs the float64 W_Aᵀx
    after_max_abs_diff_vs_b: diff,   // ... vs the float64 W_Bᵀx
    output: v.picklist(["unchanged", "changed"]),
  }),
  dynamic: v.strictObject({
    ic: positiveInt,
    oc: positiveInt,
    seq: positiveInt,
    compile_ms: nonNegative,
    load_ms: nonNegative,
    surface_write_ms: nonNegative,
    eval_a: EvalStatsSchema,
    eval_b: EvalStatsSchema,
    max_abs_error_a: diff,           // output with W_A vs the float64 W_Aᵀx
    max_abs_error_b: diff,           // output with W_B vs the float64 W_Bᵀx
    tolerance: nonNegative,                 // the fp16 bound both errors must stay under
    output: v.picklist(["unchanged", "changed"]),
    within_tolerance: v.boolean(),
    samples_b: v.array(SampleSchema),       // y_B[o, s] at fixed positions, for cross-checks
    sum_b: v.nullable(v.number()),          // sum of every y_B element; null when not finite
  }),
});

// A configuration that failed to compile, load or run keeps its row with `error` set.
const PeakRowSchema = v.strictObject({
  channels: positiveInt,
  depth: positiveInt,
  spatial: positiveInt,
  weights_mb: nonNegative,                // fp16 weight bytes / 1e6
  gflop_per_eval: nonNegative,            // 2·C·C·S·D / 1e9
  compile_ms: v.nullable(nonNegative),
  load_ms: v.nullable(nonNegative),
  eval: v.nullable(EvalStatsSchema),
  tflops: v.nullable(nonNegative),        // from the median wall time
  tflops_hw: v.nullable(nonNegative),     // from the median device time, when reported
  pct_of_peak: v.nullable(nonNegative),   // tflops / peak.tflops * 100; null when no peak is known
  output_finite: v.nullable(v.boolean()),
  error: v.nullable(v.string()),
});

const PeakResultsSchema = v.strictObject({
  peak: v.strictObject({
    tflops: v.nullable(nonNegative),
    precision: v.picklist(["fp16", "fp32"]),
    source: v.string(),                   // where the number comes from, in words
  }),
  rows: v.pipe(v.array(PeakRowSchema), v.minLength(1)),
  best_tflops: v.nullable(nonNegative),  // null when no configuration ran
});

// ---- perf-stats and advanced: libane's backend queries (docs/probes.md "libane queries").

const QueryFieldSchema = v.strictObject({ name: v.pipe(v.string(), v.nonEmpty()), exists: v.boolean() });
const PerfObjectSchema = v.strictObject({
  name: v.pipe(v.string(), v.nonEmpty()),   // an Objective-C class, e.g. "_ANEPerformanceStats"
  exists: v.boolean(),
  fields: v.array(QueryFieldSchema),        // its methods/properties the backend looked for
});

const PerfStatsResultsSchema = v.strictObject({
  applicable: v.boolean(),
  reason: v.nullable(v.string()),          // why not, when not applicable
  objects: v.array(PerfObjectSchema),       // empty when not applicable
  ignored_keys: v.array(v.string()),        // keys of libane's answer this probe does not know
  // libane's own experiment on the device (docs/ane-backend.md "perf-stats"): hardware time with
  // stats attached, before and after setPerfStatsMask; null where the backend does not run it
  device_measurement: v.nullable(v.strictObject({
    program: v.nullable(v.string()), evals: v.nullable(v.number()), stats_attached: v.nullable(v.boolean()),
    hw_ns: v.nullable(v.number()), mask_set: v.nullable(v.boolean()), mask: v.nullable(v.number()),
    mask_read_back: v.nullable(v.number()), hw_ns_with_mask: v.nullable(v.number()),
    hw_time_nonzero: v.nullable(v.boolean()), error: v.nullable(v.string()),
  })),
  hw_time: v.strictObject({                 // measured here: evals of one small conv
    evals: positiveInt,
    with_hw_time: nonNegativeInt,           // evals whose timing carried a device time > 0
    hw_ms: v.nullable(TimingStatsSchema),   // over those evals
    wall_ms: TimingStatsSchema,
  }),
});

// The features an "advanced" answer should cover; docs/probes.md says what each means.
export const ADVANCED_FEATURES = ["shared_events", "weights_buffer", "procedure_index", "chaining", "real_time", "direct_eval"] as const;

const AdvancedFeatureSchema = v.strictObject({
  name: v.pipe(v.string(), v.nonEmpty()),
  exists: v.boolean(),                      // the classes/selectors it needs are present
  works: v.nullable(v.boolean()),           // tried and worked / failed; null: not tried
  detail: v.nullable(v.string()),           // what was tried, or why it failed
});

const AdvancedResultsSchema = v.strictObject({
  applicable: v.boolean(),
  reason: v.nullable(v.string()),
  features: v.array(AdvancedFeatureSchema), // empty when not applicable
  missing: v.array(v.string()),             // ADVANCED_FEATURES the answer did not cover
  ignored_keys: v.array(v.string()),
});

// ---- inmem-bench, sram, dynamic-matmul, int8

const InmemRowSchema = v.strictObject({
  channels: positiveInt,
  spatial: positiveInt,
  weights_mb: nonNegative,
  mflop_per_eval: nonNegative,              // 2·C·C·S / 1e6
  compile_ms: v.nullable(nonNegative),
  load_ms: v.nullable(nonNegative),
  eval: v.nullable(EvalStatsSchema),
  tflops: v.nullable(nonNegative),
  tflops_hw: v.nullable(nonNegative),
  max_abs_error: diff,                      // vs the float64 reference of the fp16 weights
  tolerance: nonNegative,
  error: v.nullable(v.string()),
});

const InmemBenchResultsSchema = v.strictObject({
  io: v.picklist(["fp32-cast", "fp16"]),    // fp16 where the chip cannot cast (M1/M2)
  rows: v.pipe(v.array(InmemRowSchema), v.minLength(1)),
  dispatch_ms: v.nullable(nonNegative),     // the smallest median ms/eval of any row
  best_tflops: v.nullable(nonNegative),
});

const SramRowSchema = v.strictObject({
  channels: positiveInt,
  weights_mb: nonNegative,                  // C·C·2 / 1e6
  gflop_per_eval: nonNegative,
  eval: v.nullable(EvalStatsSchema),
  gflops: v.nullable(nonNegative),          // from the median wall time
  gflops_per_mb: v.nullable(nonNegative),
  vs_best_so_far: v.nullable(nonNegative),  // gflops / the best gflops of the smaller sizes
  cliff: v.boolean(),                       // vs_best_so_far < 1 - cliff_drop
  error: v.nullable(v.string()),
});

const SramResultsSchema = v.strictObject({
  cliff_drop: nonNegative,                  // 0.3: a drop of more than 30%
  rows: v.pipe(v.array(SramRowSchema), v.minLength(1)),
  cliff_at_mb: v.nullable(nonNegative),     // weights MB of the first cliff row; null: none
  cliff_channels: v.nullable(positiveInt),
  best_gflops: v.nullable(nonNegative),
});

const DynamicShapeSchema = v.strictObject({
  ic: positiveInt,
  oc: positiveInt,
  seq: positiveInt,
  gflop_per_eval: nonNegative,              // 2·IC·OC·S / 1e9
  compile_ms: v.nullable(nonNegative),
  eval: v.nullable(EvalStatsSchema),        // weights already in the surface
  staged: v.nullable(TimingStatsSchema),    // ms of one (stage W into the surface + eval)
  gflops: v.nullable(nonNegative),          // eval only
  gflops_staged: v.nullable(nonNegative),   // staging + eval
  sgemm_ms: v.nullable(nonNegative),        // host ane_sgemm, median
  sgemm_gflops: v.nullable(nonNegative),
  max_abs_error: diff,                      // vs host sgemm of the same (fp16-exact) inputs
  tolerance: nonNegative,
  within_tolerance: v.boolean(),
  error: v.nullable(v.string()),
});

const DynamicMatmulResultsSchema = v.strictObject({
  shapes: v.pipe(v.array(DynamicShapeSchema), v.minLength(1)),
  all_correct: v.boolean(),
  best_gflops: v.nullable(nonNegative),
});

const Int8VariantSchema = v.strictObject({
  compile_ms: v.nullable(nonNegative),
  eval: v.nullable(EvalStatsSchema),
  tops: v.nullable(nonNegative),            // 2·C·C·S·D / median wall time, in 1e12 ops/s
  error: v.nullable(v.string()),
});

const Int8ResultsSchema = v.strictObject({
  applicable: v.boolean(),
  reason: v.nullable(v.string()),
  channels: positiveInt,
  depth: positiveInt,
  spatial: positiveInt,
  fp16: v.nullable(Int8VariantSchema),
  int8: v.nullable(Int8VariantSchema),
  ratio: v.nullable(nonNegative),           // int8 TOPS / fp16 TOPS
  rel_diff_vs_fp16: v.nullable(nonNegative), // ||y_int8 - y_fp16|| / ||y_fp16||
});

const envelope = {
  schema: v.literal(SCHEMA_ID),
  rustane: v.strictObject({
    version: v.pipe(v.string(), v.nonEmpty()),
    libane: v.pipe(v.string(), v.nonEmpty()),
    abi: nonNegativeInt,
  }),
  // kind plus the backend's info() members (libane's ane_backend_info_json), as reported.
  backend: v.looseObject({ kind: v.picklist(["cpu", "ane", "cuda"]) }),
  machine: v.strictObject({
    os: v.pipe(v.string(), v.nonEmpty()),          // "darwin", "linux"
    os_release: v.string(),                        // kernel release, e.g. "24.1.0"
    arch: v.pipe(v.string(), v.nonEmpty()),        // "arm64", "x64"
    cpu_model: v.string(),
    cores: positiveInt,
    memory_gb: nonNegative,
  }),
  parameters: v.record(v.string(), v.unknown()),
  started_at: v.pipe(v.string(), v.isoTimestamp()),
  duration_ms: nonNegative,
  verdict: v.pipe(v.string(), v.nonEmpty(), v.maxLength(160)),
  notes: v.array(v.string()),
};

export const ProbeDocumentSchema = v.pipe(
  v.variant("probe", [
    v.strictObject({ ...envelope, probe: v.literal("qos-sweep"), results: QosSweepResultsSchema }),
    v.strictObject({ ...envelope, probe: v.literal("weight-reload"), results: WeightReloadResultsSchema }),
    v.strictObject({ ...envelope, probe: v.literal("peak"), results: PeakResultsSchema }),
    v.strictObject({ ...envelope, probe: v.literal("perf-stats"), results: PerfStatsResultsSchema }),
    v.strictObject({ ...envelope, probe: v.literal("advanced"), results: AdvancedResultsSchema }),
    v.strictObject({ ...envelope, probe: v.literal("inmem-bench"), results: InmemBenchResultsSchema }),
    v.strictObject({ ...envelope, probe: v.literal("sram"), results: SramResultsSchema }),
    v.strictObject({ ...envelope, probe: v.literal("dynamic-matmul"), results: DynamicMatmulResultsSchema }),
    v.strictObject({ ...envelope, probe: v.literal("int8"), results: Int8ResultsSchema }),
  ]),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    for (const finding of personalDataFindings(dataset.value)) addIssue({ message: finding });
  }),
);

export type ProbeDocument = v.InferOutput<typeof ProbeDocumentSchema>;
export type QosSweepResults = v.InferOutput<typeof QosSweepResultsSchema>;
export type WeightReloadResults = v.InferOutput<typeof WeightReloadResultsSchema>;
export type PeakResults = v.InferOutput<typeof PeakResultsSchema>;
export type PerfStatsResults = v.InferOutput<typeof PerfStatsResultsSchema>;
export type AdvancedResults = v.InferOutput<typeof AdvancedResultsSchema>;
export type InmemBenchResults = v.InferOutput<typeof InmemBenchResultsSchema>;
export type SramResults = v.InferOutput<typeof SramResultsSchema>;
export type DynamicMatmulResults = v.InferOutput<typeof DynamicMatmulResultsSchema>;
export type Int8Results = v.InferOutput<typeof Int8ResultsSchema>;
export type EvalStats = v.InferOutput<typeof EvalStatsSchema>;
export type TimingStats = v.InferOutput<typeof TimingStatsSchema>;

/** Validate a document: the list of problems as "path: message" lines (empty when valid). */
export function validateDocument(doc: unknown): string[] {
  const res = v.safeParse(ProbeDocumentSchema, doc);
  if (res.success) return [];
  return res.issues.map((issue) => `${v.getDotPath(issue) ?? "$"}: ${issue.message}`);
}

// ---- `rustane probe all`: every probe's document in one (schema "rustane.probe-set/1").

export const SET_SCHEMA_ID = "rustane.probe-set/1";

export const ProbeSetSchema = v.pipe(
  v.strictObject({
    schema: v.literal(SET_SCHEMA_ID),
    probe_schema: v.literal(SCHEMA_ID),      // the schema every document below follows
    rustane: envelope.rustane,
    machine: envelope.machine,
    backend: v.picklist(["cpu", "ane", "cuda"]),
    sizes: v.picklist(["reference", "small"]), // reference sizes on the device, small on cpu
    started_at: envelope.started_at,
    duration_ms: nonNegative,
    documents: v.array(ProbeDocumentSchema),
    failures: v.array(v.strictObject({ probe: v.pipe(v.string(), v.nonEmpty()), error: v.string() })),
  }),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    for (const finding of personalDataFindings(dataset.value)) addIssue({ message: finding });
  }),
);
export type ProbeSet = v.InferOutput<typeof ProbeSetSchema>;

/** Validate a probe-set document: problems as "path: message" lines (empty when valid). */
export function validateProbeSet(doc: unknown): string[] {
  const res = v.safeParse(ProbeSetSchema, doc);
  if (res.success) return [];
  return res.issues.map((issue) => `${v.getDotPath(issue) ?? "$"}: ${issue.message}`);
}
