// `rustane check --model M [--chip m1..m5] [--seq N]`: builds a model's training kernels and checks
// each against the chip profiles' rules (what Apple's compiler of that chip generation accepts),
// so a user learns before touching a Mac which kernels would compile where, and why not.
import { Option } from "clipanion";
import { milCheck, chipDialect, type Finding } from "../ffi/index.ts";
import { loadModelConfig } from "../model/config.ts";
import { buildTransformerKernels, KERNEL_NAMES } from "../kernels/transformer.ts";
import { RustaneCommand, usageError, parseCount } from "./base.ts";
import { formatTable } from "../util/table.ts";

const CHIPS = ["m1", "m2", "m3", "m4", "m5"] as const;

export class CheckCommand extends RustaneCommand {
  static paths = [["check"]];
  static usage = RustaneCommand.Usage({
    description: "check a model's training kernels against the ANE chip profiles",
    examples: [["Which chips accept Qwen3-0.6B's kernels", "$0 check --model qwen3-0.6b"],
      ["Stories110M on M4 only, in detail", "$0 check --model stories110m --chip m4"]],
  });
  model = Option.String("--model", { required: true, description: "a built-in model or a .json config" });
  chip = Option.String("--chip", { description: "one chip profile (default: m1..m5)" });
  seq = Option.String("--seq", { description: "sequence length the kernels are built for (default 256)" });
  json = Option.Boolean("--json", false, { description: "print the findings as JSON" });

  async run(): Promise<number> {
    const cfg = loadModelConfig(this.model);
    if (cfg.family === "gpt") throw usageError(`--model ${cfg.name}: check covers the llama and qwen3 families' kernels`);
    const seq = parseCount("--seq", this.seq, 256);
    if (seq < 1 || seq > cfg.max_seq_len) throw usageError(`--seq: must be in 1..${cfg.max_seq_len} (got ${seq})`);
    if (this.chip && !(CHIPS as readonly string[]).includes(this.chip)) throw usageError(`--chip: must be one of ${CHIPS.join(", ")} (got "${this.chip}")`);
    const chips = this.chip ? [this.chip] : [...CHIPS];
    const results: Record<string, Record<string, { ok: boolean; errors: Finding[]; warnings: Finding[] }>> = {};
    for (const chip of chips) {
      // Build the kernels the way rustane emits them for that chip (M1/M2: program(1.0)/ios16).
      const kernels = buildTransformerKernels(cfg, { seq, dtype: "fp16", dialect: chipDialect(chip) });
      for (const name of KERNEL_NAMES) {
        const k = kernels[name], r = milCheck(k.text, { weights: k.weights, chip });
        (results[name] ??= {})[chip] = { ok: r.ok, errors: r.findings.filter((f) => f.severity === "error"),
          warnings: r.findings.filter((f) => f.severity === "warning") };
      }
    }
    if (this.json) {
      this.context.stdout.write(JSON.stringify({ model: cfg.name, seq, results }, null, 2) + "\n");
      return 0;
    }
    const cell = (r: { ok: boolean; errors: Finding[]; warnings: Finding[] }) =>
      r.ok ? (r.warnings.length ? `ok (${r.warnings.length} warning${r.warnings.length > 1 ? "s" : ""})` : "ok")
        : `REJECTED: ${[...new Set(r.errors.map((e) => e.rule ?? "error"))].join(", ")}`;
    this.context.stdout.write(`kernels of ${cfg.name} (seq ${seq}, fp16) against the chip profiles:\n`);
    this.context.stdout.write(formatTable(["kernel", ...chips], KERNEL_NAMES.map((n) => [n, ...chips.map((c) => cell(results[n][c]))])) + "\n");
    const details = new Map<string, string>();
    for (const n of KERNEL_NAMES)
      for (const c of chips)
        for (const f of [...results[n][c].errors, ...(chips.length === 1 ? results[n][c].warnings : [])])
          details.set(`${f.severity} ${f.rule}: ${f.message}`, `${c}`);
    if (details.size) {
      this.context.stdout.write("\nwhy:\n");
      for (const [msg, chip] of details) this.context.stdout.write(`  [${chip}] ${msg}\n`);
    }
    return 0;
  }
}
