/**
 * Tokenizers. The byte tokenizer maps UTF-8 bytes to ids 0..255 (any text round-trips). The other
 * kinds live in ./tokenizers/: character-level (char.ts), llama2.c tokenizer.bin (llama2c.ts) and
 * Hugging Face byte-level BPE tokenizer.json (hf-bpe.ts), all behind the same interface.
 */
import type { ModelConfig } from "../model/config.ts";
import { CharTokenizer } from "./tokenizers/char.ts";
import { Llama2cTokenizer } from "./tokenizers/llama2c.ts";
import { HfBpeTokenizer } from "./tokenizers/hf-bpe.ts";
import { existsSync, openSync, readSync, closeSync } from "node:fs";

export { CharTokenizer, Llama2cTokenizer, HfBpeTokenizer };

export interface EncodeOptions {
  /** Start with the BOS id (an error for a tokenizer that has none). */
  bos?: boolean;
  /** End with the EOS id. */
  eos?: boolean;
}

export interface Tokenizer {
  readonly kind: string;
  /** One more than the largest id. */
  readonly vocabSize: number;
  /** Beginning / end of sequence ids, or null when the tokenizer has none. */
  readonly bos: number | null;
  readonly eos: number | null;
  encode(text: string, opts?: EncodeOptions): Uint16Array | Uint32Array;
  /** Text of the ids; an id outside the vocabulary is an error naming it and its position. */
  decode(ids: ArrayLike<number>): string;
  /** How the vocabulary spells one id ("Ġworld", "▁the", "<0x0A>", "<eos>"). */
  token(id: number): string;
  /** UTF-8 bytes each id stands for (for bits per byte); 0 for special tokens. */
  tokenBytes(): Float64Array;
  /** What a checkpoint stores to rebuild it (see tokenizerFromDescription). */
  describe(): Record<string, unknown>;
}

export class ByteTokenizer implements Tokenizer {
  readonly kind = "byte";
  readonly vocabSize = 256;
  readonly bos = null;
  readonly eos = null;
  encode(text: string, opts: EncodeOptions = {}): Uint16Array {
    if (opts.bos || opts.eos) throw new Error("the byte tokenizer has no BOS/EOS ids (all 256 ids are bytes)");
    return Uint16Array.from(new TextEncoder().encode(text));
  }
  decode(ids: ArrayLike<number>): string {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id > 255) throw new Error(`token id ${id} at position ${i} is outside the byte vocabulary (0..255)`);
    }
    return new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }).decode(Uint8Array.from(ids as ArrayLike<number>));
  }
  token(id: number): string {
    if (!Number.isInteger(id) || id < 0 || id > 255) throw new Error(`token id ${id} is outside the byte vocabulary (0..255)`);
    return id >= 0x21 && id <= 0x7e ? String.fromCharCode(id) : `<0x${id.toString(16).toUpperCase().padStart(2, "0")}>`;
  }
  tokenBytes(): Float64Array { return new Float64Array(256).fill(1); }
  describe(): Record<string, unknown> { return { kind: "byte" }; }
}

/**
 * The tokenizer of a model config's `tokenizer` kind when it needs no file: byte, or char with
 * its default alphabet (tab, newline, printable ASCII). llama2c and hf-bpe need their file
 * (loadTokenizer).
 */
export function tokenizerFor(kind: string): Tokenizer {
  if (kind === "byte") return new ByteTokenizer();
  if (kind === "char") return new CharTokenizer();
  if (kind === "llama2c" || kind === "hf-bpe")
    throw new Error(`tokenizer '${kind}' needs its file (${kind === "llama2c" ? "tokenizer.bin" : "tokenizer.json"}): pass it, or pre-tokenized data (.bin)`);
  throw new Error(`unknown tokenizer '${kind}': use byte, char, llama2c or hf-bpe`);
}

/**
 * `spec`: "byte", "char", or a file: a Hugging Face tokenizer.json (a JSON object) or a llama2.c
 * tokenizer.bin (anything else), told apart by the first byte.
 */
export function loadTokenizer(spec: string): Tokenizer {
  if (spec === "byte" || spec === "char") return tokenizerFor(spec);
  if (!existsSync(spec)) throw new Error(`tokenizer ${spec}: no such file (use byte, char, a tokenizer.json or a llama2.c tokenizer.bin)`);
  let first = -1;
  try {
    const fd = openSync(spec, "r");
    const b = new Uint8Array(64);
    const n = readSync(fd, b, 0, 64, 0);
    closeSync(fd);
    first = b.subarray(0, n).find((c) => c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) ?? -1;
  } catch {
    // a folder or an unreadable file: the readers below say which
  }
  return first === 0x7b /* { */ || spec.endsWith(".json") ? HfBpeTokenizer.fromFile(spec) : Llama2cTokenizer.fromFile(spec);
}

/** Rebuilds a tokenizer from describe()'s record (as a checkpoint stores it). */
export function tokenizerFromDescription(d: Record<string, unknown>): Tokenizer {
  switch (d.kind) {
    case "byte": return new ByteTokenizer();
    case "char":
      if (d.chars === undefined) return new CharTokenizer();
      if (typeof d.chars !== "string") throw new Error("char tokenizer description: chars must be a string");
      return new CharTokenizer(d.chars);
    case "llama2c": case "hf-bpe": {
      if (typeof d.path !== "string") throw new Error(`${d.kind} tokenizer description has no file path: pass the tokenizer file`);
      const tok = d.kind === "llama2c" ? Llama2cTokenizer.fromFile(d.path) : HfBpeTokenizer.fromFile(d.path);
      const now = tok.describe();
      if (typeof d.sha256 === "string" && now.sha256 !== d.sha256)
        throw new Error(`tokenizer file ${d.path} changed since the checkpoint was written (sha256 ${String(now.sha256).slice(0, 12)}..., recorded ${d.sha256.slice(0, 12)}...)`);
      return tok;
    }
    default:
      throw new Error(`unknown tokenizer kind ${JSON.stringify(d.kind)} in the description (byte, char, llama2c, hf-bpe)`);
  }
}

/**
 * Throws unless the tokenizer can feed the model: the same kind as the config's `tokenizer`, and
 * every id below the model's vocab_size (a larger embedding, as Qwen3's padded 151936 rows for
 * 151669 tokens, is fine).
 */
export function checkTokenizerFits(tok: Tokenizer, model: Pick<ModelConfig, "name" | "vocab_size" | "tokenizer">): void {
  if (tok.kind !== model.tokenizer)
    throw new Error(`model ${model.name} expects a ${model.tokenizer} tokenizer, got ${tok.kind}`);
  if (tok.vocabSize > model.vocab_size)
    throw new Error(`the ${tok.kind} tokenizer has ${tok.vocabSize} ids but model ${model.name} has vocab_size ${model.vocab_size}: ` +
      `ids ${model.vocab_size}..${tok.vocabSize - 1} have no embedding row; use a model config with vocab_size >= ${tok.vocabSize}`);
}
