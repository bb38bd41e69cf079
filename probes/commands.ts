// `rustane probe ...`: the clipanion commands src/cli registers.
//   rustane probe list          each probe's name and what it measures
//   rustane probe NAME          run one; a table, or --json for ONE result document
//   rustane probe all [--json]  every probe with its defaults (small sizes on the cpu backend);
//                               --json prints ONE probe-set document holding every document
// Exit codes: 0 done (whatever the verdict), 1 the probe could not run (libane error, unwritable
// --out), 2 a bad option value (one line naming the option and the rule).
import { writeFileSync } from "node:fs";
import { Command, Option } from "clipanion";
import * as v from "valibot";
import { BACKEND_CHOICES, runProbe, type ProbeDefinition } from "./context.ts";
import { choiceOption, OptionError, parseOptions } from "./options.ts";
import { peak, PEAK_DEFAULTS, PeakParams } from "./peak.ts";
import { qosSweep, QOS_SWEEP_DEFAULTS, QosSweepParams } from "./qos-sweep.ts";
import type { ProbeDocument } from "./schema.ts";
import { formatTable } from "./table.ts";
import { weightReload, WEIGHT_RELOAD_DEFAULTS, WeightReloadParams } from "./weight-reload.ts";
import { perfStats, PERF_STATS_DEFAULTS, PerfStatsParams } from "./perf-stats.ts";
import { advanced, AdvancedParams } from "./advanced.ts";
import { inmemBench, INMEM_BENCH_DEFAULTS, InmemBenchParams } from "./inmem-bench.ts";
import { sram, SRAM_DEFAULTS, SramParams } from "./sram.ts";
import { dynamicMatmul, DYNAMIC_MATMUL_DEFAULTS, DynamicMatmulParams } from "./dynamic-matmul.ts";
import { int8, INT8_DEFAULTS, Int8Params } from "./int8.ts";
import { runAll } from "./all.ts";

export const PROBES = [qosSweep, weightReload, peak, perfStats, advanced, inmemBench, sram, dynamicMatmul, int8] as const;

const CommonParams = v.object({ backend: choiceOption("--backend", BACKEND_CHOICES) });

/** The options every probe takes, and the run -> validate -> print sequence. */
abstract class ProbeCommand<P extends object, R> extends Command {
  backend = Option.String("--backend", "auto", { description: "cpu, ane or auto (ane when it works here, else cpu)" });
  chip = Option.String("--chip", { description: "chip profile to compile for (default: the backend's: the detected chip on ane, m4 on cpu)" });
  json = Option.Boolean("--json", false, { description: "print one JSON result document instead of the table" });
  out = Option.String("--out", { description: "also write the JSON result document to this file" });

  abstract readonly definition: ProbeDefinition<P, R>;
  /** The probe's own option values as raw strings, keyed like its valibot schema. */
  abstract rawParams(): Record<string, string>;
  abstract readonly paramsSchema: v.GenericSchema<unknown, P>;

  async execute(): Promise<number> {
    const name = this.definition.name;
    const fail = (code: number, message: string) => {
      this.context.stderr.write(`rustane probe ${name}: ${message}\n`);
      return code;
    };
    let doc: ProbeDocument;
    try {
      const { backend } = parseOptions(CommonParams, { backend: this.backend });
      const params = parseOptions(this.paramsSchema, this.rawParams());
      doc = runProbe(this.definition, { backend, chip: this.chip }, params);
    } catch (e) {
      if (e instanceof OptionError) return fail(2, e.message);
      return fail(1, e instanceof Error ? e.message : String(e));
    }
    const json = JSON.stringify(doc, null, 2) + "\n";
    if (this.out !== undefined) {
      try {
        writeFileSync(this.out, json);
      } catch (e) {
        return fail(1, `cannot write --out file: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (this.json) {
      this.context.stdout.write(json);
    } else {
      const chip = String(doc.parameters["chip"]);
      this.context.stdout.write(
        `probe ${name} on the ${doc.backend.kind} backend (chip profile ${chip}), ` +
        `${doc.machine.cpu_model}, ${doc.machine.os} ${doc.machine.arch}\n\n` +
        this.definition.table(doc.results as R) +
        `\nverdict: ${doc.verdict}\n` +
        doc.notes.map((n) => `note: ${n}\n`).join("") +
        (this.out !== undefined ? `result document written to ${this.out}\n` : ""),
      );
    }
    return 0;
  }
}

const COMMON_DETAILS =
  "Common options: --backend cpu|ane|auto, --chip NAME, --json (print one JSON result document), --out FILE " +
  "(also write it there). Send the JSON document back with your report; it holds no hostname, user name, path or serial number.";

class QosSweepCommand extends ProbeCommand<QosSweepParams, unknown> {
  static paths = [["probe", "qos-sweep"]];
  static usage = Command.Usage({
    category: "Probes",
    description: qosSweep.description,
    details: `Compiles the same conv once per QoS level and times compile, load and eval at that level. ${COMMON_DETAILS}`,
    examples: [["Sweep the default levels", "rustane probe qos-sweep"], ["Three levels, JSON", "rustane probe qos-sweep --levels 9,21,33 --json"]],
  });
  levels = Option.String("--levels", QOS_SWEEP_DEFAULTS.levels, { description: "comma-separated QoS levels, each 0..63" });
  evals = Option.String("--evals", QOS_SWEEP_DEFAULTS.evals, { description: "timed evals per level (1..100000)" });
  warmup = Option.String("--warmup", QOS_SWEEP_DEFAULTS.warmup, { description: "untimed evals before timing (0..10000)" });
  channels = Option.String("--channels", QOS_SWEEP_DEFAULTS.channels, { description: "conv channels C (C x C weight)" });
  spatial = Option.String("--spatial", QOS_SWEEP_DEFAULTS.spatial, { description: "spatial size S" });
  readonly definition = qosSweep as ProbeDefinition<QosSweepParams, unknown>;
  readonly paramsSchema = QosSweepParams;
  rawParams() {
    return { levels: this.levels, evals: this.evals, warmup: this.warmup, channels: this.channels, spatial: this.spatial };
  }
}

class WeightReloadCommand extends ProbeCommand<WeightReloadParams, unknown> {
  static paths = [["probe", "weight-reload"]];
  static usage = Command.Usage({
    category: "Probes",
    description: weightReload.description,
    details: `(a) rewrites a compiled program's BLOBFILE weight between unload and load; (b) rewrites weights packed in the input surface. ${COMMON_DETAILS}`,
    examples: [["Run it", "rustane probe weight-reload"]],
  });
  dim = Option.String("--dim", WEIGHT_RELOAD_DEFAULTS.dim, { description: "channels of both weights (2..4096)" });
  spatial = Option.String("--spatial", WEIGHT_RELOAD_DEFAULTS.spatial, { description: "spatial size S (1..4096)" });
  evals = Option.String("--evals", WEIGHT_RELOAD_DEFAULTS.evals, { description: "timed evals per step (1..100000)" });
  warmup = Option.String("--warmup", WEIGHT_RELOAD_DEFAULTS.warmup, { description: "untimed evals before the first timing" });
  readonly definition = weightReload as ProbeDefinition<WeightReloadParams, unknown>;
  readonly paramsSchema = WeightReloadParams;
  rawParams() {
    return { dim: this.dim, spatial: this.spatial, evals: this.evals, warmup: this.warmup };
  }
}

class PeakCommand extends ProbeCommand<PeakParams, unknown> {
  static paths = [["probe", "peak"]];
  static usage = Command.Usage({
    category: "Probes",
    description: peak.description,
    details: `One program per (channels, depth) pair: a chain of depth 1x1 convs, each with its own fp16 weight. ${COMMON_DETAILS}`,
    examples: [["Defaults (C=512, D=32, S=64)", "rustane probe peak"], ["A sweep", "rustane probe peak --channels 256,384,512 --depths 32,64"]],
  });
  channels = Option.String("--channels", PEAK_DEFAULTS.channels, { description: "comma-separated channel counts C" });
  depths = Option.String("--depths", PEAK_DEFAULTS.depths, { description: "comma-separated chain depths D" });
  spatial = Option.String("--spatial", PEAK_DEFAULTS.spatial, { description: "spatial size S" });
  evals = Option.String("--evals", PEAK_DEFAULTS.evals, { description: "timed evals per configuration (1..100000)" });
  warmup = Option.String("--warmup", PEAK_DEFAULTS.warmup, { description: "untimed evals before timing (0..10000)" });
  readonly definition = peak as ProbeDefinition<PeakParams, unknown>;
  readonly paramsSchema = PeakParams;
  rawParams() {
    return { channels: this.channels, depths: this.depths, spatial: this.spatial, evals: this.evals, warmup: this.warmup };
  }
}

class PerfStatsCommand extends ProbeCommand<PerfStatsParams, unknown> {
  static paths = [["probe", "perf-stats"]];
  static usage = Command.Usage({
    category: "Probes",
    description: perfStats.description,
    details: `Asks libane which performance-statistics objects and fields exist, then times evals of one conv and counts those that report a device time. ${COMMON_DETAILS}`,
    examples: [["Run it", "rustane probe perf-stats"]],
  });
  evals = Option.String("--evals", PERF_STATS_DEFAULTS.evals, { description: "timed evals (1..100000)" });
  channels = Option.String("--channels", PERF_STATS_DEFAULTS.channels, { description: "conv channels C" });
  spatial = Option.String("--spatial", PERF_STATS_DEFAULTS.spatial, { description: "spatial size S" });
  readonly definition = perfStats as ProbeDefinition<PerfStatsParams, unknown>;
  readonly paramsSchema = PerfStatsParams;
  rawParams() {
    return { evals: this.evals, channels: this.channels, spatial: this.spatial };
  }
}

class AdvancedCommand extends ProbeCommand<AdvancedParams, unknown> {
  static paths = [["probe", "advanced"]];
  static usage = Command.Usage({
    category: "Probes",
    description: advanced.description,
    details: `Prints libane's answer about the runtime's advanced paths; not applicable on the cpu backend. ${COMMON_DETAILS}`,
    examples: [["Run it", "rustane probe advanced"]],
  });
  readonly definition = advanced as ProbeDefinition<AdvancedParams, unknown>;
  readonly paramsSchema = AdvancedParams;
  rawParams() {
    return {};
  }
}

class InmemBenchCommand extends ProbeCommand<InmemBenchParams, unknown> {
  static paths = [["probe", "inmem-bench"]];
  static usage = Command.Usage({
    category: "Probes",
    description: inmemBench.description,
    details: `One program per channel count: fp32 input, cast to fp16, one C x C 1x1 conv, cast to fp32. ${COMMON_DETAILS}`,
    examples: [["Defaults (C=256..4096, S=64)", "rustane probe inmem-bench"]],
  });
  channels = Option.String("--channels", INMEM_BENCH_DEFAULTS.channels, { description: "comma-separated channel counts C" });
  spatial = Option.String("--spatial", INMEM_BENCH_DEFAULTS.spatial, { description: "spatial size S" });
  evals = Option.String("--evals", INMEM_BENCH_DEFAULTS.evals, { description: "timed evals per size (1..100000)" });
  warmup = Option.String("--warmup", INMEM_BENCH_DEFAULTS.warmup, { description: "untimed evals before timing (0..10000)" });
  readonly definition = inmemBench as ProbeDefinition<InmemBenchParams, unknown>;
  readonly paramsSchema = InmemBenchParams;
  rawParams() {
    return { channels: this.channels, spatial: this.spatial, evals: this.evals, warmup: this.warmup };
  }
}

class SramCommand extends ProbeCommand<SramParams, unknown> {
  static paths = [["probe", "sram"]];
  static usage = Command.Usage({
    category: "Probes",
    description: sram.description,
    details: `One C x C 1x1 conv per size, smallest first; flags the first size more than 30% below the best GFLOP/s of the smaller ones. ${COMMON_DETAILS}`,
    examples: [["Defaults (C=256..4096)", "rustane probe sram"]],
  });
  channels = Option.String("--channels", SRAM_DEFAULTS.channels, { description: "comma-separated channel counts C" });
  spatial = Option.String("--spatial", SRAM_DEFAULTS.spatial, { description: "spatial size S" });
  evals = Option.String("--evals", SRAM_DEFAULTS.evals, { description: "timed evals per size (1..100000)" });
  warmup = Option.String("--warmup", SRAM_DEFAULTS.warmup, { description: "untimed evals before timing (0..10000)" });
  readonly definition = sram as ProbeDefinition<SramParams, unknown>;
  readonly paramsSchema = SramParams;
  rawParams() {
    return { channels: this.channels, spatial: this.spatial, evals: this.evals, warmup: this.warmup };
  }
}

class DynamicMatmulCommand extends ProbeCommand<DynamicMatmulParams, unknown> {
  static paths = [["probe", "dynamic-matmul"]];
  static usage = Command.Usage({
    category: "Probes",
    description: dynamicMatmul.description,
    details: `Shapes are IC x OC x S; y = W^T x with W packed beside x in the input surface. ${COMMON_DETAILS}`,
    examples: [["Defaults", "rustane probe dynamic-matmul"], ["One shape", "rustane probe dynamic-matmul --shapes 2048x2048x256"]],
  });
  shapes = Option.String("--shapes", DYNAMIC_MATMUL_DEFAULTS.shapes, { description: "comma-separated ICxOCxS triples" });
  evals = Option.String("--evals", DYNAMIC_MATMUL_DEFAULTS.evals, { description: "timed evals per shape (1..100000)" });
  warmup = Option.String("--warmup", DYNAMIC_MATMUL_DEFAULTS.warmup, { description: "untimed evals before timing (0..10000)" });
  readonly definition = dynamicMatmul as ProbeDefinition<DynamicMatmulParams, unknown>;
  readonly paramsSchema = DynamicMatmulParams;
  rawParams() {
    return { shapes: this.shapes, evals: this.evals, warmup: this.warmup };
  }
}

class Int8Command extends ProbeCommand<Int8Params, unknown> {
  static paths = [["probe", "int8"]];
  static usage = Command.Usage({
    category: "Probes",
    description: int8.description,
    details: `Two chains of D C x C 1x1 convs with the same weights: fp16, and W8A8 (quantize/dequantize activations, int8 weights). ${COMMON_DETAILS}`,
    examples: [["Defaults (C=512, D=32, S=64)", "rustane probe int8"]],
  });
  channels = Option.String("--channels", INT8_DEFAULTS.channels, { description: "conv channels C" });
  depth = Option.String("--depth", INT8_DEFAULTS.depth, { description: "chain depth D" });
  spatial = Option.String("--spatial", INT8_DEFAULTS.spatial, { description: "spatial size S" });
  evals = Option.String("--evals", INT8_DEFAULTS.evals, { description: "timed evals per program (1..100000)" });
  warmup = Option.String("--warmup", INT8_DEFAULTS.warmup, { description: "untimed evals before timing (0..10000)" });
  readonly definition = int8 as ProbeDefinition<Int8Params, unknown>;
  readonly paramsSchema = Int8Params;
  rawParams() {
    return { channels: this.channels, depth: this.depth, spatial: this.spatial, evals: this.evals, warmup: this.warmup };
  }
}

class ProbeAllCommand extends Command {
  static paths = [["probe", "all"]];
  static usage = Command.Usage({
    category: "Probes",
    description: "run every probe with its defaults and print one document holding every result",
    details:
      "The device runs the reference sizes; the cpu backend runs small ones (under a minute on 2 cores). " +
      "A probe that cannot run is listed under `failures` and the others still run. " +
      "`rustane probe all --json > results.json` is the file testers send back: it holds no hostname, user name, path or serial number.",
    examples: [["The tester run", "rustane probe all --json > results.json"]],
  });
  backend = Option.String("--backend", "auto", { description: "cpu, ane or auto (ane when it works here, else cpu)" });
  chip = Option.String("--chip", { description: "chip profile to compile for (default: the backend's)" });
  json = Option.Boolean("--json", false, { description: "print the probe-set JSON document instead of the tables" });
  out = Option.String("--out", { description: "also write the probe-set JSON document to this file" });

  async execute(): Promise<number> {
    const fail = (code: number, message: string) => {
      this.context.stderr.write(`rustane probe all: ${message}\n`);
      return code;
    };
    const progress = (line: string) => {
      if (!this.json) this.context.stdout.write(line);
    };
    let set;
    try {
      const { backend } = parseOptions(CommonParams, { backend: this.backend });
      set = runAll({ backend, chip: this.chip }, progress);
    } catch (e) {
      if (e instanceof OptionError) return fail(2, e.message);
      return fail(1, e instanceof Error ? e.message : String(e));
    }
    const json = JSON.stringify(set, null, 2) + "\n";
    if (this.out !== undefined) {
      try {
        writeFileSync(this.out, json);
      } catch (e) {
        return fail(1, `cannot write --out file: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (this.json) this.context.stdout.write(json);
    else {
      this.context.stdout.write(`\n${set.documents.length} probes ran, ${set.failures.length} failed, in ${(set.duration_ms / 1000).toFixed(1)} s` +
        (this.out !== undefined ? `; results written to ${this.out}` : "; rerun with --json > results.json to save them") + "\n");
    }
    return 0;
  }
}

class ProbeListCommand extends Command {
  static paths = [["probe", "list"]];
  static usage = Command.Usage({ category: "Probes", description: "list the probes and what each measures" });
  async execute(): Promise<number> {
    this.context.stdout.write(formatTable(["probe", "measures"], PROBES.map((p) => [p.name, p.description])));
    return 0;
  }
}

// clipanion's `typeof Command` (the generic abstract class) does not accept concrete subclasses
// structurally; every class here is a Command<BaseContext>, which is what Cli.register takes.
export const probeCommands: Array<typeof Command> =
  [ProbeListCommand, ProbeAllCommand, QosSweepCommand, WeightReloadCommand, PeakCommand, PerfStatsCommand, AdvancedCommand,
    InmemBenchCommand, SramCommand, DynamicMatmulCommand, Int8Command] as Array<typeof Command>;
