// `rustane version`: this executable's version and the libane it runs on.
import { Command } from "clipanion";
import { RustaneCommand } from "./base.ts";
import { abiVersion, libanePath, libaneVersion, EXPECTED_ABI_VERSION } from "../ffi/index.ts";
import pkg from "../../package.json";

export const RUSTANE_VERSION: string = pkg.version;

export class VersionCommand extends RustaneCommand {
  static paths = [["version"]];
  static usage = Command.Usage({ description: "print the versions of rustane and of libane (with its ABI and path)" });

  async run(): Promise<number> {
    const out = this.context.stdout;
    out.write(`rustane ${RUSTANE_VERSION}\n`);
    out.write(`libane ${libaneVersion()} (ABI ${abiVersion()}, expected ${EXPECTED_ABI_VERSION})\n`);
    out.write(`library ${libanePath()}\n`);
    return 0;
  }
}
