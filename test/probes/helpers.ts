// Runs `bun src/main.ts probe ...` as a subprocess, the way a tester runs the executable.
import { join } from "node:path";

export const REPO = join(import.meta.dir, "..", "..");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[]): CliResult {
  const proc = Bun.spawnSync([process.execPath, "src/main.ts", ...args], {
    cwd: REPO,
    env: { ...process.env, NO_COLOR: "1" },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: proc.exitCode ?? -1, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() };
}

/** Run a probe with --json on the cpu backend and return the parsed document. */
export function runProbeJson(name: string, args: string[]): Record<string, any> {
  const res = runCli(["probe", name, "--backend", "cpu", "--json", ...args]);
  if (res.code !== 0) throw new Error(`probe ${name} exited ${res.code}: ${res.stderr}`);
  return JSON.parse(res.stdout);
}
