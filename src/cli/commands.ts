// Every command the rustane executable registers, besides clipanion's help and --version builtins.
import type { BaseContext, CommandClass } from "clipanion";
import { VersionCommand } from "./version.ts";
import { DoctorCommand } from "./doctor.ts";
import { MilCheckCommand } from "./mil-check.ts";
import { MilRunCommand } from "./mil-run.ts";
import { TrainCommand } from "./train.ts";
import { CheckCommand } from "./check.ts";
import { GenerateCommand } from "./generate.ts";
import { BenchTrainCommand } from "./bench.ts";
import { TokenizeCommand } from "./tokenize.ts";
import { probeCommands } from "../../probes/commands.ts";
import { ReportCommand } from "./report.ts";

export const coreCommands: Array<CommandClass<BaseContext>> = [TrainCommand, CheckCommand, GenerateCommand, VersionCommand, DoctorCommand, MilCheckCommand, MilRunCommand, BenchTrainCommand, TokenizeCommand];

// probes/commands.ts exports them as `Array<typeof Command>` (the abstract base), which clipanion
// registers the same way; the cast only restates that they are concrete command classes.
export const allCommands: Array<CommandClass<BaseContext>> = [
  ...coreCommands,
  ...(probeCommands as unknown as Array<CommandClass<BaseContext>>),
  ReportCommand,
];
