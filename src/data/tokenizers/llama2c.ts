/**
 * The llama2.c tokenizer.bin: a SentencePiece BPE vocabulary (Llama 2's 32000 pieces, or one
 * trained by llama2.c's tinystories.py train_vocab) exported as
 *   int32 max_token_length, then for each token: float32 score, int32 len, len bytes (UTF-8),
 * all little-endian, with no token count (llama2.c takes it from the model), so the file is read
 * to its end. Layout by convention: id 0 <unk>, 1 <s> (BOS), 2 </s> (EOS), and the byte-fallback
 * pieces <0x00>..<0xFF> (ids 3..258 in Llama 2's file); the exporter replaced SentencePiece's
 * "▁" (U+2581) with a space.
 *
 * Encoding reproduces sentencepiece.SentencePieceProcessor.encode with Llama 2's tokenizer.model
 * (identity normalizer, add_dummy_prefix, whitespace kept): prepend a space (unless the text is
 * empty), write spaces as "▁", start from one symbol per code point, merge adjacent pairs whose
 * concatenation is a piece, highest score first (leftmost on ties), and spell each code point with
 * no piece as its UTF-8 byte pieces. Like SentencePiece and unlike run.c's encode(), the control
 * pieces (<unk>, <s>, </s>) and the byte pieces never take part in matching or merging: run.c
 * would merge the text "<s>" into BOS, whose score 0 beats every real piece.
 */
import { createHash } from "node:crypto";
import { readFileSync, existsSync, statSync } from "node:fs";
import { bpeMerge, PairTable, type MergeRules } from "./bpe-merge.ts";
import type { EncodeOptions, Tokenizer } from "../tokenizer.ts";

const SPACE_MARK = "\u2581"; // SentencePiece's "▁"
const BYTE_PIECE = /^<0x([0-9A-F]{2})>$/;
const UNK = 0, BOS = 1, EOS = 2;
const CACHE_LIMIT = 100_000;
const utf8 = new TextEncoder();
const UNK_SURFACE = " \u2047 "; // what SentencePiece's decode writes for <unk>

/** Pieces read from a tokenizer.bin. */
export interface Llama2cVocab { maxTokenLength: number; pieces: string[]; scores: Float32Array }

/** Parses tokenizer.bin bytes; throws a clear error on a malformed or truncated file. */
export function parseLlama2cTokenizer(bytes: Uint8Array, source: string): Llama2cVocab {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 4) throw new Error(`${source}: not a llama2.c tokenizer.bin (${bytes.byteLength} bytes, too short for the int32 max_token_length header)`);
  const maxTokenLength = view.getInt32(0, true);
  if (maxTokenLength <= 0 || maxTokenLength > 4096)
    throw new Error(`${source}: not a llama2.c tokenizer.bin (max_token_length ${maxTokenLength} in the header is not in 1..4096)`);
  const pieces: string[] = [];
  const scores: number[] = [];
  const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  let at = 4;
  while (at < bytes.byteLength) {
    const id = pieces.length;
    if (at + 8 > bytes.byteLength) throw new Error(`${source}: truncated at token ${id} (byte ${at}: ${bytes.byteLength - at} bytes left, a token record needs 8 + its length): is the file complete?`);
    const score = view.getFloat32(at, true), len = view.getInt32(at + 4, true);
    if (len < 0 || len > maxTokenLength) throw new Error(`${source}: token ${id} (byte ${at}) has length ${len}, outside 0..max_token_length ${maxTokenLength}: not a llama2.c tokenizer.bin, or corrupt`);
    if (!Number.isFinite(score)) throw new Error(`${source}: token ${id} (byte ${at}) has a non-finite score ${score}`);
    if (at + 8 + len > bytes.byteLength) throw new Error(`${source}: truncated in token ${id} (byte ${at}: its ${len} bytes run past the end of the file): is the file complete?`);
    let piece: string;
    try { piece = utf8.decode(bytes.subarray(at + 8, at + 8 + len)); }
    catch { throw new Error(`${source}: token ${id} (byte ${at}) is not valid UTF-8`); }
    pieces.push(piece);
    scores.push(score);
    at += 8 + len;
  }
  if (pieces.length < 3) throw new Error(`${source}: only ${pieces.length} tokens; a llama2.c tokenizer has <unk>, <s>, </s> at ids 0..2 and more`);
  return { maxTokenLength, pieces, scores: Float32Array.from(scores) };
}

export class Llama2cTokenizer implements Tokenizer {
  readonly kind = "llama2c";
  readonly vocabSize: number;
  readonly bos = BOS;
  readonly eos = EOS;
  /** Pieces with "▁" for spaces, as SentencePiece spells them. */
  private readonly pieces: string[];
  /** Text pieces (not control, not byte) by spelling. */
  private readonly pieceId = new Map<string, number>();
  /** byteId[b]: the id of <0xbb>, or -1 when the vocabulary has no byte fallback for it. */
  private readonly byteId = new Int32Array(256).fill(-1);
  /** For byte pieces, the byte; else -1. */
  private readonly byteOf: Int16Array;
  private readonly rules: MergeRules;
  /** Code point pairs that occur inside some piece: between any other two, no merge can reach across. */
  private readonly bigrams = new PairTable(1 << 16);
  private readonly cache = new Map<string, Int32Array>();

  constructor(vocab: Llama2cVocab, private readonly source: { path: string | null; sha256: string | null } = { path: null, sha256: null }) {
    const n = vocab.pieces.length;
    this.vocabSize = n;
    this.pieces = vocab.pieces.map((p) => p.replaceAll(" ", SPACE_MARK));
    // llama2.c's export spells BOS/EOS "\n<s>\n" and "\n</s>\n"; show SentencePiece's names.
    this.pieces[BOS] = "<s>";
    this.pieces[EOS] = "</s>";
    this.byteOf = new Int16Array(n).fill(-1);
    for (let id = 0; id < n; id++) {
      const p = this.pieces[id];
      const m = BYTE_PIECE.exec(p);
      if (m) { const b = parseInt(m[1], 16); this.byteOf[id] = b; if (this.byteId[b] < 0) this.byteId[b] = id; continue; }
      if (id <= EOS) continue; // control pieces
      if (!this.pieceId.has(p)) this.pieceId.set(p, id);
    }
    // SentencePiece merges toward the higher score: priority = -score, one "merge" per piece id.
    // Every way to cut a piece into two pieces is a merge producing it, so the merge loop looks
    // pairs up by ids instead of concatenating strings.
    const priority = new Float64Array(n);
    for (let id = 0; id < n; id++) priority[id] = -vocab.scores[id];
    const mergedId = Int32Array.from({ length: n }, (_, i) => i);
    const pairs = new PairTable(4 * n);
    for (const [p, id] of this.pieceId) {
      let prev = -1;
      for (let k = 0; k < p.length; ) {
        const cp = p.codePointAt(k)!;
        if (prev >= 0) {
          this.bigrams.set(prev, cp, 1);
          const left = this.pieceId.get(p.slice(0, k)), right = this.pieceId.get(p.slice(k));
          if (left !== undefined && right !== undefined) pairs.set(left, right, id);
        }
        prev = cp;
        k += cp > 0xffff ? 2 : 1;
      }
    }
    this.rules = { mergedId, priority, find: (left, right) => (left < 0 || right < 0 ? -1 : pairs.get(left, right)) };
  }

  /** Reads a tokenizer.bin file. */
  static fromFile(path: string): Llama2cTokenizer {
    if (!existsSync(path)) throw new Error(`tokenizer file ${path} does not exist`);
    if (statSync(path).isDirectory()) throw new Error(`tokenizer file ${path} is a folder, not a llama2.c tokenizer.bin`);
    const bytes = readFileSync(path);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    return new Llama2cTokenizer(parseLlama2cTokenizer(bytes, path), { path, sha256 });
  }

  encode(text: string, opts: EncodeOptions = {}): Uint16Array | Uint32Array {
    const out: number[] = [];
    if (opts.bos) out.push(BOS);
    if (text.length > 0) {
      const normalized = SPACE_MARK + text.replaceAll(" ", SPACE_MARK);
      // Merging the whole text at once gives the same ids as merging each run between two code
      // points that no piece holds side by side: no merge ever spans such a cut. The runs (mostly
      // words) repeat, so their ids are cached.
      let start = 0, prev = -1;
      for (let i = 0; i < normalized.length; ) {
        const cp = normalized.codePointAt(i)!;
        if (prev >= 0 && this.bigrams.get(prev, cp) < 0) { this.encodeRun(normalized.slice(start, i), out); start = i; }
        prev = cp;
        i += cp > 0xffff ? 2 : 1;
      }
      this.encodeRun(normalized.slice(start), out);
    }
    if (opts.eos) out.push(EOS);
    return this.vocabSize <= 65536 ? Uint16Array.from(out) : Uint32Array.from(out);
  }

  /** BPE of one run of normalized text, appended to out. */
  private encodeRun(run: string, out: number[]): void {
    let ids = this.cache.get(run);
    if (!ids) {
      // One symbol per code point; -1 - cp marks a code point with no piece, for the byte pass.
      const cps = Array.from(run);
      ids = new Int32Array(cps.length);
      for (let i = 0; i < cps.length; i++) ids[i] = this.pieceId.get(cps[i]) ?? -1 - cps[i].codePointAt(0)!;
      ids = bpeMerge(ids, this.rules);
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(run, ids);
    }
    for (const id of ids) {
      if (id >= 0) { out.push(id); continue; }
      for (const b of utf8.encode(String.fromCodePoint(-1 - id))) out.push(this.byteId[b] >= 0 ? this.byteId[b] : UNK);
    }
  }

  /**
   * Text of the ids: BOS and EOS vanish, <unk> reads " ⁇ ", byte pieces join into UTF-8 (invalid sequences become
   * U+FFFD), "▁" becomes a space, and the dummy-prefix space of the first piece is dropped, as
   * SentencePiece's decode does.
   */
  decode(ids: ArrayLike<number>): string {
    const bytes: number[] = [];
    const enc = new TextEncoder();
    let first = true;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      this.checkId(id, i);
      if (id === BOS || id === EOS) continue;
      if (this.byteOf[id] >= 0) { bytes.push(this.byteOf[id]); first = false; continue; }
      let piece = id === UNK ? UNK_SURFACE : this.pieces[id].replaceAll(SPACE_MARK, " ");
      if (first && piece.startsWith(" ")) piece = piece.slice(1);
      first = false;
      for (const b of enc.encode(piece)) bytes.push(b);
    }
    return new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }).decode(Uint8Array.from(bytes));
  }

  token(id: number): string {
    this.checkId(id, 0);
    return this.pieces[id];
  }

  tokenBytes(): Float64Array {
    const enc = new TextEncoder();
    return Float64Array.from(this.pieces, (p, id) =>
      this.byteOf[id] >= 0 ? 1 : id <= EOS ? 0 : enc.encode(p.replaceAll(SPACE_MARK, " ")).length);
  }

  describe(): Record<string, unknown> {
    return { kind: this.kind, path: this.source.path, sha256: this.source.sha256, vocab_size: this.vocabSize };
  }

  private checkId(id: number, at: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize)
      throw new Error(`token id ${id} at position ${at} is outside the llama2c vocabulary (0..${this.vocabSize - 1})`);
  }
}
