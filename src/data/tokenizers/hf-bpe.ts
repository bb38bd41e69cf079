/**
 * Hugging Face tokenizer.json files with a byte-level BPE model (GPT-2, Qwen2/Qwen3, Llama 3,
 * ...), encoding as the `tokenizers` library does:
 *
 *   1. added_tokens split the text first (leftmost, longest match): those with normalized=false
 *      on the raw text, then those with normalized=true on the normalized rest;
 *   2. the normalizer (NFC, NFD, NFKC, NFKD, Lowercase, Sequence);
 *   3. the pre_tokenizer (Split by regex or string, ByteLevel, Digits, Sequence): ByteLevel writes
 *      each UTF-8 byte as one printable character (GPT-2's bytes_to_unicode: "Ġ" is the space);
 *   4. BPE on each piece: merge the adjacent pair with the lowest merge rank, leftmost first.
 *
 * decode() joins the tokens and undoes the ByteLevel decoder. Anything else a tokenizer.json can
 * declare (WordPiece/Unigram models, Metaspace, BERT normalizers, dropout, ...) is refused with an
 * error naming the field, rather than encoded differently from the library.
 *
 * The file's regexes are Oniguruma's; JavaScript's differ in one place that matters here: \s
 * (JavaScript's includes U+FEFF and lacks U+0085), so \s and \S become \p{White_Space} and
 * \P{White_Space}, which is Oniguruma's set.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { bpeMerge, PairTable, type MergeRules } from "./bpe-merge.ts";
import type { EncodeOptions, Tokenizer } from "../tokenizer.ts";

/** GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the rest for U+0100.. */
function byteLevelAlphabet(): { byteChar: string[]; charByte: Map<string, number> } {
  const byteChar: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    byteChar[b] = String.fromCharCode(printable ? b : next++);
  }
  return { byteChar, charByte: new Map(byteChar.map((c, b) => [c, b])) };
}
const { byteChar: BYTE_CHAR, charByte: CHAR_BYTE } = byteLevelAlphabet();

const utf8 = new TextEncoder();

/** A string's UTF-8 bytes, each written as its byte-level character. */
function toByteLevel(s: string): string {
  let t = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) { // not all ASCII: go through the bytes
      t = "";
      for (const b of utf8.encode(s)) t += BYTE_CHAR[b];
      return t;
    }
    t += BYTE_CHAR[c];
  }
  return t;
}

/** GPT-2's pre-tokenizer pattern, used by ByteLevel when use_regex is true. */
const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

type Json = Record<string, unknown>;
type PreTokenize = (pieces: string[]) => string[];

function fail(source: string, field: string, what: string): never {
  throw new Error(`${source}: ${field}: ${what}`);
}

/** An Oniguruma pattern as a JavaScript regex: \s and \S as Unicode White_Space. */
export function oniguruma(pattern: string, source: string, field: string): RegExp {
  let js = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\" && i + 1 < pattern.length) {
      const d = pattern[++i];
      js += d === "s" ? "\\p{White_Space}" : d === "S" ? "\\P{White_Space}" : "\\" + d;
    } else js += c;
  }
  try { return new RegExp(js, "gu"); }
  catch (e) { fail(source, field, `the regex ${JSON.stringify(pattern)} is not supported here (${(e as Error).message})`); }
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\\/]/g, "\\$&");
}

/** HF's Split: the spans of `re` in the piece, and the text between them, per behavior. */
function splitBy(re: RegExp, behavior: string, invert: boolean): PreTokenize {
  return (pieces) => {
    const out: string[] = [];
    for (const piece of pieces) {
      // spans: [start, end, isMatch], covering the piece.
      const spans: Array<[number, number, boolean]> = [];
      let at = 0;
      re.lastIndex = 0;
      for (let m = re.exec(piece); m !== null; m = re.exec(piece)) {
        if (m[0].length === 0) { re.lastIndex++; continue; }
        if (m.index > at) spans.push([at, m.index, invert]);
        spans.push([m.index, m.index + m[0].length, !invert]);
        at = m.index + m[0].length;
      }
      if (at < piece.length) spans.push([at, piece.length, invert]);
      const text = (s: [number, number, boolean]) => piece.slice(s[0], s[1]);
      if (behavior === "Isolated") for (const s of spans) out.push(text(s));
      else if (behavior === "Removed") for (const s of spans) { if (!s[2]) out.push(text(s)); }
      else if (behavior === "MergedWithPrevious") {
        let cur = "";
        for (const s of spans) { if (s[2]) { cur += text(s); out.push(cur); cur = ""; } else { if (cur) out.push(cur); cur = text(s); } }
        if (cur) out.push(cur);
      } else if (behavior === "MergedWithNext") {
        let cur = "";
        for (const s of spans) { if (s[2]) { if (cur) out.push(cur); cur = text(s); } else { cur += text(s); out.push(cur); cur = ""; } }
        if (cur) out.push(cur);
      } else if (behavior === "Contiguous") {
        let cur = "", curMatch = false;
        for (const s of spans) {
          if (cur && s[2] && curMatch) { cur += text(s); continue; }
          if (cur) out.push(cur);
          cur = text(s); curMatch = s[2];
        }
        if (cur) out.push(cur);
      }
    }
    return out;
  };
}

const SPLIT_BEHAVIORS = ["Isolated", "Removed", "MergedWithPrevious", "MergedWithNext", "Contiguous"];

function buildPreTokenizer(p: Json, source: string, field: string, seen: { byteLevel: boolean }): PreTokenize {
  switch (p.type) {
    case "Sequence": {
      if (!Array.isArray(p.pretokenizers)) fail(source, `${field}.pretokenizers`, "must be an array");
      const steps = (p.pretokenizers as Json[]).map((q, i) => buildPreTokenizer(q, source, `${field}.pretokenizers[${i}]`, seen));
      return (pieces) => steps.reduce((acc, step) => step(acc), pieces);
    }
    case "Split": {
      const pat = p.pattern as Json | undefined;
      let re: RegExp;
      if (pat && typeof pat.Regex === "string") re = oniguruma(pat.Regex, source, `${field}.pattern.Regex`);
      else if (pat && typeof pat.String === "string") re = new RegExp(escapeRegex(pat.String), "gu");
      else fail(source, `${field}.pattern`, "must be {\"Regex\": ...} or {\"String\": ...}");
      const behavior = String(p.behavior);
      if (!SPLIT_BEHAVIORS.includes(behavior)) fail(source, `${field}.behavior`, `"${behavior}" is not one of ${SPLIT_BEHAVIORS.join(", ")}`);
      return splitBy(re, behavior, p.invert === true);
    }
    case "Digits":
      return splitBy(p.individual_digits === true ? /\p{N}/gu : /\p{N}+/gu, "Isolated", false);
    case "ByteLevel": {
      seen.byteLevel = true;
      const split = p.use_regex === false ? null : splitBy(oniguruma(GPT2_PATTERN, source, field), "Isolated", false);
      const prefix = p.add_prefix_space === true;
      return (pieces) => {
        if (prefix) pieces = pieces.map((s) => (s.startsWith(" ") ? s : " " + s));
        if (split) pieces = split(pieces);
        return pieces.map(toByteLevel);
      };
    }
    default:
      fail(source, `${field}.type`, `pre-tokenizer "${String(p.type)}" is not supported (supported: Sequence, Split, ByteLevel, Digits)`);
  }
}

function buildNormalizer(n: Json | null, source: string, field: string): (s: string) => string {
  if (n === null || n === undefined) return (s) => s;
  switch (n.type) {
    case "NFC": case "NFD": case "NFKC": case "NFKD": {
      const form = n.type;
      return (s) => s.normalize(form);
    }
    case "Lowercase": return (s) => s.toLowerCase();
    case "Sequence": {
      if (!Array.isArray(n.normalizers)) fail(source, `${field}.normalizers`, "must be an array");
      const steps = (n.normalizers as Json[]).map((q, i) => buildNormalizer(q, source, `${field}.normalizers[${i}]`));
      return (s) => steps.reduce((acc, f) => f(acc), s);
    }
    default:
      fail(source, `${field}.type`, `normalizer "${String(n.type)}" is not supported (supported: NFC, NFD, NFKC, NFKD, Lowercase, Sequence)`);
  }
}

interface AddedToken { id: number; content: string; special: boolean; normalized: boolean; lstrip: boolean; rstrip: boolean }

/** A matcher for added tokens: leftmost match, longest token first at the same place. */
function addedMatcher(tokens: AddedToken[]): { re: RegExp; byGroup: AddedToken[] } | null {
  if (tokens.length === 0) return null;
  const sorted = [...tokens].sort((a, b) => b.content.length - a.content.length);
  const alts = sorted.map((t) => `${t.lstrip ? "\\p{White_Space}*" : ""}(${escapeRegex(t.content)})${t.rstrip ? "\\p{White_Space}*" : ""}`);
  return { re: new RegExp(alts.join("|"), "gu"), byGroup: sorted };
}

type Segment = { text: string; added: AddedToken | null; normalized: boolean };

function splitAdded(segments: Segment[], matcher: ReturnType<typeof addedMatcher>): Segment[] {
  if (!matcher) return segments;
  const out: Segment[] = [];
  for (const seg of segments) {
    if (seg.added) { out.push(seg); continue; }
    let at = 0;
    matcher.re.lastIndex = 0;
    for (let m = matcher.re.exec(seg.text); m !== null; m = matcher.re.exec(seg.text)) {
      if (m.index > at) out.push({ text: seg.text.slice(at, m.index), added: null, normalized: seg.normalized });
      let g = 1;
      while (m[g] === undefined) g++;
      out.push({ text: m[0], added: matcher.byGroup[g - 1], normalized: seg.normalized });
      at = m.index + m[0].length;
    }
    if (at < seg.text.length) out.push({ text: seg.text.slice(at), added: null, normalized: seg.normalized });
  }
  return out;
}

const CACHE_LIMIT = 100_000;

export class HfBpeTokenizer implements Tokenizer {
  readonly kind = "hf-bpe";
  readonly vocabSize: number;
  readonly bos: number | null;
  readonly eos: number | null;
  private readonly vocab = new Map<string, number>();
  private readonly idToken: string[] = [];
  private readonly added: AddedToken[];
  private readonly addedById = new Map<number, AddedToken>();
  private readonly rawAdded: ReturnType<typeof addedMatcher>;
  private readonly normAdded: ReturnType<typeof addedMatcher>;
  private readonly normalize: (s: string) => string;
  private readonly preTokenize: PreTokenize;
  private readonly rules: MergeRules;
  private readonly unk: number;
  private readonly ignoreMerges: boolean;
  private readonly cache = new Map<string, Int32Array>();
  /** charId[c]: the id of the one-character token String.fromCharCode(c), for c < 0x144; -1 if none. */
  private readonly charId = new Int32Array(0x144).fill(-1);

  constructor(json: Json, private readonly source: { path: string | null; sha256: string | null }) {
    const name = source.path ?? "tokenizer.json";
    const model = json.model as Json | undefined;
    if (!model || typeof model !== "object") fail(name, "model", "missing: not a Hugging Face tokenizer.json");
    const type = model.type ?? (model.merges ? "BPE" : undefined);
    if (type !== "BPE") fail(name, "model.type", `"${String(model.type)}" is not supported: rustane reads byte-level BPE tokenizer.json files`);
    if (model.dropout !== null && model.dropout !== undefined && model.dropout !== 0) fail(name, "model.dropout", "BPE dropout is not supported (encoding would be random)");
    if (model.continuing_subword_prefix || model.end_of_word_suffix) fail(name, "model", "continuing_subword_prefix / end_of_word_suffix are not supported (not byte-level BPE)");
    if (model.byte_fallback === true) fail(name, "model.byte_fallback", "byte_fallback BPE (SentencePiece-style) is not supported; use the byte-level form");
    if (!model.vocab || typeof model.vocab !== "object" || Array.isArray(model.vocab)) fail(name, "model.vocab", "must be an object {token: id}");

    let maxId = -1;
    const vocab = model.vocab as Record<string, unknown>;
    for (const tok in vocab) {
      const id = vocab[tok];
      if (!Number.isInteger(id) || (id as number) < 0) fail(name, "model.vocab", `token ${JSON.stringify(tok)} has id ${JSON.stringify(id)}, not a non-negative integer`);
      this.vocab.set(tok, id as number);
      this.idToken[id as number] = tok;
      maxId = Math.max(maxId, id as number);
    }
    if (!Array.isArray(json.added_tokens ?? [])) fail(name, "added_tokens", "must be an array");
    this.added = ((json.added_tokens ?? []) as Json[]).map((t, i) => {
      if (typeof t.content !== "string" || t.content === "" || !Number.isInteger(t.id) || (t.id as number) < 0) fail(name, `added_tokens[${i}]`, "needs a non-empty content and a non-negative integer id");
      if (t.single_word === true) fail(name, `added_tokens[${i}].single_word`, `single_word added tokens (${JSON.stringify(t.content)}) are not supported`);
      return { id: t.id as number, content: t.content, special: t.special === true, normalized: t.normalized === true, lstrip: t.lstrip === true, rstrip: t.rstrip === true };
    });
    for (const t of this.added) {
      this.addedById.set(t.id, t);
      maxId = Math.max(maxId, t.id);
    }
    this.vocabSize = maxId + 1;
    for (let c = 0; c < this.charId.length; c++) this.charId[c] = this.vocab.get(String.fromCharCode(c)) ?? -1;
    this.rawAdded = addedMatcher(this.added.filter((t) => !t.normalized));
    this.normAdded = addedMatcher(this.added.filter((t) => t.normalized));
    const idOfAdded = (content: string) => this.added.find((t) => t.content === content)?.id ?? this.vocab.get(content) ?? null;
    this.eos = idOfAdded("<|endoftext|>") ?? idOfAdded("</s>") ?? idOfAdded("<|end_of_text|>");
    this.bos = idOfAdded("<|begin_of_text|>") ?? idOfAdded("<s>");

    this.normalize = buildNormalizer((json.normalizer ?? null) as Json | null, name, "normalizer");
    const seen = { byteLevel: false };
    this.preTokenize = json.pre_tokenizer ? buildPreTokenizer(json.pre_tokenizer as Json, name, "pre_tokenizer", seen) : (p) => p;
    if (!seen.byteLevel) fail(name, "pre_tokenizer", "has no ByteLevel step: only byte-level BPE is supported");
    const dec = json.decoder as Json | null;
    if (!dec || dec.type !== "ByteLevel") fail(name, "decoder", `${dec ? `"${String(dec.type)}"` : "null"} is not supported (supported: ByteLevel)`);
    const post = json.post_processor as Json | null;
    if (post && post.type !== "ByteLevel") fail(name, "post_processor", `"${String(post.type)}" is not supported (supported: ByteLevel, null)`);

    this.unk = typeof model.unk_token === "string" ? this.vocab.get(model.unk_token) ?? -1 : -1;
    this.ignoreMerges = model.ignore_merges === true;
    this.rules = this.buildMerges(model.merges, name);
  }

  /** merges: ["a b", ...] or [["a", "b"], ...]; rank = position (a repeated pair keeps the last). */
  private buildMerges(merges: unknown, name: string): MergeRules {
    if (!Array.isArray(merges)) fail(name, "model.merges", "must be an array");
    const n = merges.length;
    const mergedId = new Int32Array(n), priority = new Float64Array(n);
    const rank = new PairTable(n);
    for (let r = 0; r < n; r++) {
      const m = merges[r];
      let a: string, b: string;
      if (typeof m === "string") {
        const sp = m.indexOf(" ", 1);
        if (sp < 0) fail(name, `model.merges[${r}]`, `${JSON.stringify(m)} is not "left right"`);
        a = m.slice(0, sp); b = m.slice(sp + 1);
      } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === "string" && typeof m[1] === "string") [a, b] = m;
      else fail(name, `model.merges[${r}]`, "must be \"left right\" or [left, right]");
      const ia = this.vocab.get(a), ib = this.vocab.get(b), im = this.vocab.get(a + b);
      if (ia === undefined || ib === undefined || im === undefined)
        fail(name, `model.merges[${r}]`, `${JSON.stringify(a)} + ${JSON.stringify(b)}: ${ia === undefined ? a : ib === undefined ? b : a + b} is not in model.vocab`);
      mergedId[r] = im;
      priority[r] = r;
      rank.set(ia, ib, r);
    }
    return { mergedId, priority, find: (left, right) => rank.get(left, right) };
  }

  /** Reads a tokenizer.json file. */
  static fromFile(path: string): HfBpeTokenizer {
    if (!existsSync(path)) throw new Error(`tokenizer file ${path} does not exist`);
    if (statSync(path).isDirectory()) throw new Error(`tokenizer file ${path} is a folder; pass its tokenizer.json`);
    const bytes = readFileSync(path);
    let json: unknown;
    try { json = JSON.parse(bytes.toString("utf8")); }
    catch (e) { throw new Error(`${path} is not valid JSON (${(e as Error).message}): a Hugging Face tokenizer.json was expected`); }
    if (!json || typeof json !== "object" || Array.isArray(json)) throw new Error(`${path}: not a Hugging Face tokenizer.json (the top level is not an object)`);
    return new HfBpeTokenizer(json as Json, { path, sha256: createHash("sha256").update(bytes).digest("hex") });
  }

  /** BPE of one byte-level piece. */
  private word(piece: string): Int32Array {
    const hit = this.cache.get(piece);
    if (hit) return hit;
    let ids: Int32Array;
    const whole = this.ignoreMerges ? this.vocab.get(piece) : undefined;
    if (whole !== undefined) ids = Int32Array.of(whole);
    else {
      // Pieces are byte-level text: characters in U+0021..U+0143, one UTF-16 unit each.
      ids = new Int32Array(piece.length);
      for (let i = 0; i < piece.length; i++) {
        const code = piece.charCodeAt(i);
        const id = code < this.charId.length && this.charId[code] >= 0 ? this.charId[code] : this.vocab.get(piece[i]) ?? this.unk;
        if (id < 0) {
          const b = CHAR_BYTE.get(piece[i]);
          throw new Error(`hf-bpe: ${b !== undefined ? `byte 0x${b.toString(16).padStart(2, "0")}` : `character ${JSON.stringify(piece[i])}`} has no token in ${this.source.path ?? "the vocabulary"} and there is no unk_token`);
        }
        ids[i] = id;
      }
      ids = bpeMerge(ids, this.rules);
    }
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(piece, ids);
    return ids;
  }

  encode(text: string, opts: EncodeOptions = {}): Uint16Array | Uint32Array {
    const out: number[] = [];
    if (opts.bos) { if (this.bos === null) throw new Error("hf-bpe: this tokenizer has no BOS token (<|begin_of_text|> or <s>)"); out.push(this.bos); }
    let segs = splitAdded([{ text, added: null, normalized: false }], this.rawAdded);
    segs = segs.map((s) => (s.added ? s : { text: this.normalize(s.text), added: null, normalized: true }));
    segs = splitAdded(segs, this.normAdded);
    for (const s of segs) {
      if (s.added) { out.push(s.added.id); continue; }
      if (s.text === "") continue;
      for (const piece of this.preTokenize([s.text])) if (piece) for (const id of this.word(piece)) out.push(id);
    }
    if (opts.eos) { if (this.eos === null) throw new Error("hf-bpe: this tokenizer has no EOS token (<|endoftext|>, </s> or <|end_of_text|>)"); out.push(this.eos); }
    return this.vocabSize <= 65536 ? Uint16Array.from(out) : Uint32Array.from(out);
  }

  /** The ByteLevel decoder: each token's characters back to bytes (a token with characters outside the byte alphabet, like an added token with a space, stands for its own UTF-8). */
  decode(ids: ArrayLike<number>): string {
    const bytes: number[] = [];
    const enc = new TextEncoder();
    for (let i = 0; i < ids.length; i++) {
      const tok = this.tokenAt(ids[i], i);
      const mapped: number[] = [];
      for (const c of tok) {
        const b = CHAR_BYTE.get(c);
        if (b === undefined) { mapped.length = 0; for (const u of enc.encode(tok)) mapped.push(u); break; }
        mapped.push(b);
      }
      for (const b of mapped) bytes.push(b);
    }
    return new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }).decode(Uint8Array.from(bytes));
  }

  token(id: number): string {
    return this.tokenAt(id, 0);
  }

  private tokenAt(id: number, at: number): string {
    const t = Number.isInteger(id) ? this.addedById.get(id)?.content ?? this.idToken[id] : undefined;
    if (t === undefined) throw new Error(`token id ${id} at position ${at} is not in the hf-bpe vocabulary (ids 0..${this.vocabSize - 1}${this.vocab.size + this.addedById.size < this.vocabSize ? ", with gaps" : ""})`);
    return t;
  }

  /** UTF-8 bytes per id: a special added token stands for no text. */
  tokenBytes(): Float64Array {
    const out = new Float64Array(this.vocabSize);
    for (let id = 0; id < this.vocabSize; id++) {
      const added = this.addedById.get(id);
      if (added) { out[id] = added.special ? 0 : new TextEncoder().encode(added.content).length; continue; }
      const t = this.idToken[id];
      if (t === undefined) continue;
      // As decode() reads it: one byte per character, or the token's own UTF-8 if it is not byte-level.
      out[id] = Array.from(t).every((c) => CHAR_BYTE.has(c)) ? Array.from(t).length : new TextEncoder().encode(t).length;
    }
    return out;
  }

  describe(): Record<string, unknown> {
    return { kind: this.kind, path: this.source.path, sha256: this.source.sha256, vocab_size: this.vocabSize };
  }
}
