// `rustane mil check FILE.mil`: every finding of libane's front end and the chip's rules, with line:column.
import { Command, Option } from "clipanion";
import { RustaneCommand, parseChoice } from "./base.ts";
import { readMilFile, readWeightsDir } from "./files.ts";
import { chipNames, milCheck } from "../ffi/index.ts";

export const CHIP_CHOICES = ["m1", "m2", "m3", "m4", "m5", "none"] as const;

export class MilCheckCommand extends RustaneCommand {
  static paths = [["mil", "check"]];
  static usage = Command.Usage({
    category: "MIL",
    description: "check a MIL program against a chip profile without compiling it",
    details: "Prints every finding as FILE:LINE:COLUMN: severity [rule]: message. Exits 0 when there are no errors (warnings allowed), 1 when there are, 2 on bad usage.",
    examples: [["check for an M1", "$0 mil check model.mil --chip m1"], ["with weights, as JSON", "$0 mil check model.mil --weights weights/ --json"]],
  });
  file = Option.String({ name: "FILE.mil" });
  chip = Option.String("--chip", { description: `chip profile: ${CHIP_CHOICES.join("|")} (default: libane's)` });
  weights = Option.String("--weights", { description: "folder whose files are the blobs @model_path/weights/<relative path>" });
  json = Option.Boolean("--json", false, { description: "print {file, ok, findings} as JSON" });

  async run(): Promise<number> {
    const chip = parseChoice("--chip", this.chip, chipNames().length ? chipNames() : CHIP_CHOICES);
    const mil = await readMilFile(this.file);
    const weights = this.weights ? await readWeightsDir(this.weights) : undefined;
    const { ok, findings } = milCheck(mil, { weights, chip });
    const out = this.context.stdout;
    if (this.json) {
      out.write(JSON.stringify({ file: this.file, chip: chip ?? null, ok, findings }, null, 2) + "\n");
    } else {
      for (const f of findings) {
        out.write(`${this.file}:${f.line}:${f.column}: ${f.severity}${f.rule ? ` [${f.rule}]` : ""}: ${f.message}\n`);
      }
      const errors = findings.filter((f) => f.severity === "error").length;
      const warnings = findings.length - errors;
      out.write(`${this.file}: ${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"}${chip ? ` (chip ${chip})` : ""}\n`);
    }
    return ok ? 0 : 1;
  }
}
