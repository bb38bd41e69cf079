// Builds the clipanion Cli and runs one command line, returning the exit code (never calling process.exit,
// so piped stdout is never cut short: bun-notes §7).
import { Builtins, Cli, type BaseContext } from "clipanion";
import { allCommands } from "./commands.ts";
import { RUSTANE_VERSION } from "./version.ts";

export function makeCli(colors: boolean): Cli<BaseContext> {
  const cli = new Cli({ binaryLabel: "rustane", binaryName: "rustane", binaryVersion: RUSTANE_VERSION, enableColors: colors });
  cli.register(Builtins.HelpCommand);
  cli.register(Builtins.VersionCommand);
  for (const c of allCommands) cli.register(c);
  return cli;
}

export async function runCli(argv: string[], context: BaseContext): Promise<number> {
  const colors = !!(context.stdout as { isTTY?: boolean }).isTTY;
  const cli = makeCli(colors);
  let command;
  try {
    command = cli.process(argv, context);
  } catch (e) {
    // A command line that matches no command or has a bad option: clipanion's message (with its
    // "did you mean" suggestions) on stderr, exit 2.
    context.stderr.write(cli.error(e, { colored: colors }));
    return 2;
  }
  return cli.run(command, context);
}
