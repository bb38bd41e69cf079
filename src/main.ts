// rustane: the executable's entry. `bun src/main.ts ARGS` runs it from source; scripts/build.ts compiles it.
import { Cli } from "clipanion";
import { runCli } from "./cli/app.ts";

process.exitCode = await runCli(process.argv.slice(2), Cli.defaultContext);
