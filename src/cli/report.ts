// `rustane report FILE... [--format markdown|json] [--out FILE]`: renders probe result documents
// (from `rustane probe NAME --json` or `rustane probe all --json`) into the community table,
// one row per machine, backend and chip profile. Exit 1 when a file cannot be read or is not a
// rustane result (the message names the file); 2 on bad usage.
import { readFileSync, writeFileSync } from "node:fs";
import { Command, Option } from "clipanion";
import { buildReport, renderJson, renderMarkdown, ReportInputError } from "../../probes/report.ts";
import { CliError, parseChoice, RustaneCommand, usageError } from "./base.ts";

export class ReportCommand extends RustaneCommand {
  static paths = [["report"]];
  static usage = Command.Usage({
    category: "Probes",
    description: "render probe result files into the cross-chip table",
    details: "Takes the JSON files testers send back (single probe documents or `probe all` sets) and prints one row per machine, backend and chip: peak TFLOPS, % of peak, dispatch ms, QoS, weight reload, dynamic-matmul GFLOP/s, int8 ratio, SRAM cliff.",
    examples: [["Markdown table", "$0 report results/*.json"], ["JSON rows to a file", "$0 report results/*.json --format json --out table.json"]],
  });
  files = Option.Rest({ required: 1, name: "FILE.json" });
  format = Option.String("--format", "markdown", { description: "markdown (default) or json" });
  out = Option.String("--out", { description: "write the report to this file instead of stdout" });

  async run(): Promise<number> {
    const format = parseChoice("--format", this.format, ["markdown", "json"] as const) ?? "markdown";
    if (this.files.length === 0) throw usageError("report: name at least one result file (FILE.json)");
    const inputs = this.files.map((file) => {
      try {
        return { file, text: readFileSync(file, "utf8") };
      } catch (e) {
        throw new CliError(`${file}: cannot read it (${(e as Error).message})`);
      }
    });
    let text: string;
    try {
      const rows = buildReport(inputs);
      text = format === "json" ? renderJson(rows) : renderMarkdown(rows);
    } catch (e) {
      if (e instanceof ReportInputError) throw new CliError(e.message);
      throw e;
    }
    if (this.out !== undefined) {
      try {
        writeFileSync(this.out, text);
      } catch (e) {
        throw new CliError(`cannot write --out file ${this.out}: ${(e as Error).message}`);
      }
    } else {
      this.context.stdout.write(text);
    }
    return 0;
  }
}
