/**
 * Training data: a flat token array (memory-mapped uint16/uint32 file in the llama2.c /
 * nanoGPT layout, or text tokenized at load), split into a training range and a held-out
 * validation range, sampled in windows of seq+1 tokens with a seeded generator whose state is
 * saved in checkpoints.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import type { Tokenizer } from "./tokenizer.ts";
import * as ops from "../ffi/train-ops.ts";
import type { Rng } from "../util/rng.ts";

export type TokenArray = Uint16Array | Uint32Array;

export interface DataSource { tokens: TokenArray; description: string; bytes: number | null }

const TEXT_EXTENSIONS = new Set([".txt", ".md", ".py", ".rst", ".text", ""]);

/** A flat binary token file: uint16 (default) or uint32 little-endian ids, memory-mapped. */
export function loadTokenFile(path: string, dtype: "uint16" | "uint32"): DataSource {
  if (!existsSync(path)) throw new Error(`data file ${path} does not exist`);
  const size = statSync(path).size, es = dtype === "uint16" ? 2 : 4;
  if (size === 0) throw new Error(`data file ${path} is empty`);
  if (size % es) throw new Error(`data file ${path} has ${size} bytes, not a multiple of ${es}: is it really ${dtype} tokens? (--token-dtype)`);
  const bytes = Bun.mmap(path, { shared: false });
  const tokens = dtype === "uint16" ? new Uint16Array(bytes.buffer, bytes.byteOffset, size / 2) : new Uint32Array(bytes.buffer, bytes.byteOffset, size / 4);
  return { tokens, description: `${path} (${tokens.length.toLocaleString("en-US")} ${dtype} tokens)`, bytes: null };
}

/** Text files (a file, or every text file under a folder, sorted) joined and tokenized. */
/**
 * Text files (a file, or every text file under a folder, sorted) tokenized and joined with
 * newlines. In a folder, a file the tokenizer cannot represent (a character outside a char
 * tokenizer's alphabet) is skipped and counted, so one stray byte does not stop a run over a
 * source tree; a single file that cannot be encoded is an error.
 */
export function loadText(path: string, tok: Tokenizer): DataSource {
  if (!existsSync(path)) throw new Error(`data path ${path} does not exist`);
  const files: string[] = [];
  const walk = (p: string) => {
    const st = statSync(p);
    if (st.isDirectory()) for (const e of readdirSync(p).sort()) walk(join(p, e));
    else if (TEXT_EXTENSIONS.has(extname(p))) files.push(p);
  };
  walk(path);
  if (files.length === 0) throw new Error(`no text files (${[...TEXT_EXTENSIONS].filter(Boolean).join(", ")}) under ${path}`);
  if (files.length === 1 && files[0] === path) {
    const text = readFileSync(path, "utf8"), tokens = tok.encode(text);
    return { tokens, description: `${path} (${tokens.length.toLocaleString("en-US")} ${tok.kind} tokens)`, bytes: Buffer.byteLength(text, "utf8") };
  }
  const parts: Array<Uint16Array | Uint32Array> = [];
  const newline = tok.encode("\n");
  let bytes = 0, total = 0, skipped = 0, firstSkip = "";
  for (const f of files) {
    const text = readFileSync(f, "utf8");
    let ids: Uint16Array | Uint32Array;
    try { ids = tok.encode(text); } catch (e) {
      if (!skipped++) firstSkip = `${f}: ${(e as Error).message}`;
      continue;
    }
    if (parts.length) { parts.push(newline); total += newline.length; bytes += 1; }
    parts.push(ids);
    total += ids.length;
    bytes += Buffer.byteLength(text, "utf8");
  }
  if (parts.length === 0) throw new Error(`no file under ${path} can be encoded by the ${tok.kind} tokenizer; the first: ${firstSkip}`);
  const tokens = tok.vocabSize <= 65536 ? new Uint16Array(total) : new Uint32Array(total);
  let at = 0;
  for (const p of parts) { tokens.set(p, at); at += p.length; }
  const kept = files.length - skipped;
  return { tokens, bytes,
    description: `${path} (${kept} file${kept > 1 ? "s" : ""}, ${total.toLocaleString("en-US")} ${tok.kind} tokens` +
      `${skipped ? `; ${skipped} skipped: characters outside the ${tok.kind} tokenizer's vocabulary` : ""})` };
}

export interface Window { tokens: Int32Array; targets: Int32Array }

/** Train/validation split with vocabulary compaction: the classifier covers only ids present in the data. */
export class Dataset {
  readonly train: TokenArray;
  readonly val: TokenArray;
  /** Ids present in the data, ascending; classifier row i is vocabulary id vocabIds[i]. */
  readonly vocabIds: Int32Array;
  /** Vocabulary id -> classifier index (-1 when absent). */
  readonly compact: Int32Array;

  constructor(readonly source: DataSource, readonly vocab: number, readonly seq: number, valFraction: number) {
    const n = source.tokens.length;
    if (n < seq + 1) throw new Error(`${source.description} holds ${n} tokens, fewer than one training sequence of ${seq + 1}: use more data or a smaller --seq`);
    const counts = new BigUint64Array(vocab);
    ops.tokenHistogram(source.tokens, vocab, counts, `checking ${source.description} against the vocabulary of ${vocab}`);
    let nVal = Math.floor(n * valFraction);
    if (nVal > 0 && nVal < seq + 1) nVal = Math.min(seq + 1, n - (seq + 1));
    if (n - nVal < seq + 1) nVal = 0;
    this.train = source.tokens.subarray(0, n - nVal) as TokenArray;
    this.val = source.tokens.subarray(n - nVal) as TokenArray;
    const used: number[] = [];
    for (let id = 0; id < vocab; id++) if (counts[id] > 0n) used.push(id);  // a pass over the vocabulary, once
    this.vocabIds = Int32Array.from(used);
    this.compact = new Int32Array(vocab).fill(-1);
    this.vocabIds.forEach((id, i) => { this.compact[id] = i; });
  }

  /** The window starting at `pos` of `split`: tokens [pos, pos+S) as vocabulary ids, targets
   *  [pos+1, pos+S+1) as classifier indices. */
  window(split: TokenArray, pos: number, out: Window): void {
    ops.tokensToI32(split.subarray(pos, pos + this.seq) as TokenArray, this.vocab, null, out.tokens, "reading tokens");
    ops.tokensToI32(split.subarray(pos + 1, pos + this.seq + 1) as TokenArray, this.vocab, this.compact, out.targets, "reading targets");
  }

  sampleTrain(rng: Rng, out: Window): number {
    const pos = Math.floor(rng.next() * (this.train.length - this.seq - 1 + 1));
    this.window(this.train, pos, out);
    return pos;
  }

  /** Consecutive validation windows (deterministic), at most `maxWindows`. */
  valWindows(maxWindows: number): number[] {
    const out: number[] = [];
    for (let p = 0; p + this.seq + 1 <= this.val.length && out.length < maxWindows; p += this.seq) out.push(p);
    return out;
  }
}
