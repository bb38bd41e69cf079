/**
 * Character-level tokenizer: one id per character (Unicode code point).
 *
 * ids 0 and 1 are <pad> and <eos>; ids 2.. are the characters, sorted by code point.
 *
 * The default alphabet is "\t", "\n" and printable ASCII 0x20..0x7E: 2 + 97 = 99 ids, enough for
 * English prose and source code (the newline ends lines, the tab indents Makefiles and some
 * Python). "\r" is left out on purpose: a CRLF file would otherwise teach the model to emit "\r\n"
 * pairs; convert such files to LF first. A character outside the alphabet is an error naming it,
 * its code point and its line:column, never a silent <unk>: training on text the tokenizer cannot
 * represent should be a decision, and the decision is to build the alphabet from the corpus
 * (CharTokenizer.fromCorpus: its distinct characters, sorted), which a checkpoint stores
 * (describe() carries the alphabet, tokenizerFromDescription rebuilds it).
 */
import type { EncodeOptions, Tokenizer } from "../tokenizer.ts";

export const PAD = "<pad>", EOS = "<eos>";
const SPECIALS = 2;

/** "\t", "\n", then " ".."~". */
export const DEFAULT_ALPHABET = "\t\n" + Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).join("");

function describeChar(ch: string): string {
  const cp = ch.codePointAt(0)!;
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
  return cp >= 0x20 && cp !== 0x7f && !(cp >= 0x80 && cp < 0xa0) ? `'${ch}' (${hex})` : hex;
}

export class CharTokenizer implements Tokenizer {
  readonly kind = "char";
  readonly vocabSize: number;
  readonly bos = null;
  readonly eos = 1;
  readonly pad = 0;
  /** The characters of ids 2.., sorted by code point. */
  readonly chars: string[];
  private readonly idOf = new Map<number, number>(); // code point -> id
  private readonly bmpId: Int32Array; // the same for code points < 0x10000, -1 where absent

  /** `alphabet`: the characters (each once, any order; they are sorted by code point). */
  constructor(alphabet: string = DEFAULT_ALPHABET) {
    const cps = [...new Set(Array.from(alphabet, (c) => c.codePointAt(0)!))].sort((a, b) => a - b);
    if (cps.length === 0) throw new Error("a char tokenizer needs at least one character");
    for (const cp of cps) if (cp >= 0xd800 && cp <= 0xdfff) throw new Error(`char tokenizer alphabet holds a lone surrogate U+${cp.toString(16).toUpperCase()}: the text is not valid UTF-16`);
    this.chars = cps.map((cp) => String.fromCodePoint(cp));
    this.vocabSize = SPECIALS + cps.length;
    this.bmpId = new Int32Array(0x10000).fill(-1);
    cps.forEach((cp, i) => {
      this.idOf.set(cp, SPECIALS + i);
      if (cp < 0x10000) this.bmpId[cp] = SPECIALS + i;
    });
  }

  /** The alphabet of a corpus: its distinct characters. */
  static fromCorpus(text: string): CharTokenizer {
    if (text.length === 0) throw new Error("cannot build a char tokenizer from an empty corpus");
    return new CharTokenizer(text);
  }

  encode(text: string, opts: EncodeOptions = {}): Uint16Array | Uint32Array {
    const out = this.vocabSize <= 65536 ? new Uint16Array(text.length + (opts.eos ? 1 : 0)) : new Uint32Array(text.length + (opts.eos ? 1 : 0));
    let n = 0, line = 1, lineStart = 0, chars = 0;
    for (let i = 0; i < text.length; i++, chars++) {
      let cp = text.charCodeAt(i);
      let id = this.bmpId[cp];
      if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < text.length) {
        const lo = text.charCodeAt(i + 1);
        if (lo >= 0xdc00 && lo <= 0xdfff) { cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00); id = this.idOf.get(cp) ?? -1; i++; }
      }
      if (id < 0) {
        const ch = String.fromCodePoint(cp);
        throw new Error(`char tokenizer: character ${describeChar(ch)} at character ${chars} (line ${line}, column ${chars - lineStart + 1}) ` +
          `is not in its ${this.chars.length}-character alphabet` +
          (this.chars.join("") === DEFAULT_ALPHABET ? " (tab, newline, printable ASCII): build the tokenizer from the corpus, or clean the text" : ""));
      }
      if (cp === 10) { line++; lineStart = chars + 1; }
      out[n++] = id;
    }
    if (opts.eos) out[n++] = this.eos;
    return out.subarray(0, n);
  }

  /** <pad> decodes to nothing and <eos> to nothing: the text is the characters. */
  decode(ids: ArrayLike<number>): string {
    let s = "";
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize)
        throw new Error(`token id ${id} at position ${i} is outside the char vocabulary (0..${this.vocabSize - 1})`);
      if (id >= SPECIALS) s += this.chars[id - SPECIALS];
    }
    return s;
  }

  token(id: number): string {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new Error(`token id ${id} is outside the char vocabulary (0..${this.vocabSize - 1})`);
    return id === 0 ? PAD : id === 1 ? EOS : this.chars[id - SPECIALS];
  }

  tokenBytes(): Float64Array {
    const enc = new TextEncoder();
    return Float64Array.from({ length: this.vocabSize }, (_, id) => id < SPECIALS ? 0 : enc.encode(this.chars[id - SPECIALS]).length);
  }

  describe(): Record<string, unknown> {
    return { kind: this.kind, chars: this.chars.join(""), specials: [PAD, EOS] };
  }
}
