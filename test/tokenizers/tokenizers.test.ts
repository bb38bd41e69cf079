// Round trips, the char tokenizer, the heap merge against a naive rescanning merge, malformed
// files, descriptions and the model fit check.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ByteTokenizer, CharTokenizer, HfBpeTokenizer, Llama2cTokenizer, checkTokenizerFits, loadTokenizer, tokenizerFor, tokenizerFromDescription,
} from "../../src/data/tokenizer.ts";
import { bpeMerge, type MergeRules } from "../../src/data/tokenizers/bpe-merge.ts";
import { LLAMA2C_BIN, QWEN3_JSON, VARIED_TEXTS } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "rustane-tok-"));
const ASCII_TEXTS = VARIED_TEXTS.filter((t) => /^[\t\n\x20-\x7e]*$/.test(t));

describe("round trips", () => {
  const llama = Llama2cTokenizer.fromFile(LLAMA2C_BIN);
  const qwen = HfBpeTokenizer.fromFile(QWEN3_JSON);
  test("byte, llama2c, hf-bpe: decode(encode(text)) === text", () => {
    for (const t of VARIED_TEXTS) {
      expect(new ByteTokenizer().decode(new ByteTokenizer().encode(t))).toBe(t);
      expect(llama.decode(llama.encode(t))).toBe(t);
      expect(qwen.decode(qwen.encode(t))).toBe(t.normalize("NFC"));
    }
  });
  test("char (default alphabet) on ASCII text, and built from the corpus on all of it", () => {
    expect(ASCII_TEXTS.length).toBeGreaterThan(5);
    const ascii = new CharTokenizer();
    for (const t of ASCII_TEXTS) expect(ascii.decode(ascii.encode(t))).toBe(t);
    const all = VARIED_TEXTS.join("");
    const built = CharTokenizer.fromCorpus(all);
    for (const t of VARIED_TEXTS) {
      const ids = built.encode(t);
      expect(ids.length).toBe(Array.from(t).length); // one id per code point, astral ones too
      expect(built.decode(ids)).toBe(t);
    }
  });
  test("tokenBytes sums to the UTF-8 length of the text (byte-level and char)", () => {
    const t = "Ünïcödé 日本 😀 code(x) {\n}";
    for (const tok of [qwen, CharTokenizer.fromCorpus(t), new ByteTokenizer()]) {
      const per = tok.tokenBytes();
      expect(per.length).toBe(tok.vocabSize);
      expect(Array.from(tok.encode(t)).reduce((s, id) => s + per[id], 0)).toBe(Buffer.byteLength(t));
    }
    // SentencePiece adds the dummy-prefix space: one byte more.
    const per = llama.tokenBytes();
    expect(Array.from(llama.encode(t)).reduce((s, id) => s + per[id], 0)).toBe(Buffer.byteLength(t) + 1);
  });
});

describe("char tokenizer", () => {
  const tok = new CharTokenizer();
  test("default alphabet: <pad> 0, <eos> 1, tab, newline, printable ASCII sorted", () => {
    expect(tok.vocabSize).toBe(99);
    expect(tok.token(0)).toBe("<pad>");
    expect(tok.token(1)).toBe("<eos>");
    expect(Array.from(tok.encode("\t\n A~"))).toEqual([2, 3, 4, 4 + 0x41 - 0x20, 4 + 0x7e - 0x20]);
    expect(Array.from(tok.encode("ab", { eos: true }))).toEqual([4 + 0x41, 4 + 0x42, 1]);
    expect(tok.decode([0, 4 + 0x41, 1])).toBe("a");
    expect(tokenizerFor("char").vocabSize).toBe(99);
  });
  test("a character outside the alphabet is an error naming it and where it is", () => {
    expect(() => tok.encode("ok\nno é here")).toThrow("character 'é' (U+00E9) at character 6 (line 2, column 4)");
    expect(() => tok.encode("a\rb")).toThrow("U+000D at character 1 (line 1, column 2)");
    expect(() => tok.encode("x😀")).toThrow("'😀' (U+1F600) at character 1");
    expect(() => tok.decode([99])).toThrow("token id 99 at position 0 is outside the char vocabulary (0..98)");
  });
  test("built from a corpus: distinct characters sorted; the description rebuilds it", () => {
    const built = CharTokenizer.fromCorpus("banana 😀 bandana");
    expect(built.chars).toEqual([" ", "a", "b", "d", "n", "😀"]);
    expect(built.vocabSize).toBe(8);
    const again = tokenizerFromDescription(JSON.parse(JSON.stringify(built.describe())));
    expect(Array.from(again.encode("bad 😀"))).toEqual([4, 3, 5, 2, 7]);
    expect(() => built.encode("banana split")).toThrow("character 's' (U+0073) at character 7");
    expect(() => CharTokenizer.fromCorpus("")).toThrow("empty corpus");
  });
});

describe("the heap merge equals a naive rescanning merge", () => {
  // Naive BPE: rescan every adjacent pair, merge the best (lowest priority, leftmost), repeat.
  function naive(ids: number[], table: Map<string, [number, number]>): number[] {
    ids = [...ids];
    for (;;) {
      let best = -1, bestP = Infinity, bestId = -1;
      for (let i = 0; i + 1 < ids.length; i++) {
        const r = table.get(`${ids[i]},${ids[i + 1]}`);
        if (r && r[0] < bestP) { best = i; bestP = r[0]; bestId = r[1]; }
      }
      if (best < 0) return ids;
      ids.splice(best, 2, bestId);
    }
  }
  test("random rules with ties, random words", () => {
    let seed = 12345;
    const rand = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
    for (let trial = 0; trial < 50; trial++) {
      const table = new Map<string, [number, number]>();
      const merges: Array<[number, number, number, number]> = []; // left, right, priority, result
      for (let k = 0; k < 40; k++) {
        const l = rand(8 + k), r = rand(8 + k), key = `${l},${r}`;
        if (table.has(key)) continue;
        const m: [number, number, number, number] = [l, r, rand(10), 8 + merges.length + 40];
        merges.push(m);
        table.set(key, [m[2], m[3]]);
      }
      const rules: MergeRules = {
        mergedId: Int32Array.from(merges, (m) => m[3]),
        priority: Float64Array.from(merges, (m) => m[2]),
        find: (l, r) => merges.findIndex((m) => m[0] === l && m[1] === r),
      };
      const word = Array.from({ length: 1 + rand(60) }, () => rand(8));
      expect(Array.from(bpeMerge(Int32Array.from(word), rules))).toEqual(naive(word, table));
    }
  });
});

describe("malformed files are clear errors", () => {
  const bin = readFileSync(LLAMA2C_BIN);
  const write = (name: string, data: string | Uint8Array) => { const p = join(dir, name); writeFileSync(p, data); return p; };
  test("truncated or corrupt tokenizer.bin", () => {
    expect(() => Llama2cTokenizer.fromFile(write("cut.bin", bin.subarray(0, 1000)))).toThrow(/truncated (in|at) token \d+ .*is the file complete\?/);
    expect(() => Llama2cTokenizer.fromFile(write("short.bin", bin.subarray(0, 2)))).toThrow("too short");
    const bad = Uint8Array.from(bin.subarray(0, 4000));
    new DataView(bad.buffer).setInt32(4 + 4, 1 << 20, true); // token 0's length
    expect(() => Llama2cTokenizer.fromFile(write("badlen.bin", bad))).toThrow("token 0 (byte 4) has length 1048576");
    expect(() => Llama2cTokenizer.fromFile(write("text.bin", "hello world, this is not a tokenizer"))).toThrow("max_token_length");
    expect(() => Llama2cTokenizer.fromFile(join(dir, "missing.bin"))).toThrow("does not exist");
  });
  test("bad or unsupported tokenizer.json", () => {
    expect(() => HfBpeTokenizer.fromFile(write("bad.json", "{\"model\": "))).toThrow("is not valid JSON");
    const base = { model: { type: "BPE", vocab: { a: 0, b: 1, ab: 2 }, merges: ["a b"] }, pre_tokenizer: { type: "ByteLevel" }, decoder: { type: "ByteLevel" } };
    const variant = (name: string, patch: (j: any) => void) => { const j = structuredClone(base) as any; patch(j); return write(name, JSON.stringify(j)); };
    expect(() => HfBpeTokenizer.fromFile(variant("wp.json", (j) => { j.model.type = "WordPiece"; }))).toThrow("model.type: \"WordPiece\" is not supported");
    expect(() => HfBpeTokenizer.fromFile(variant("meta.json", (j) => { j.pre_tokenizer = { type: "Metaspace" }; }))).toThrow("pre_tokenizer.type: pre-tokenizer \"Metaspace\" is not supported");
    expect(() => HfBpeTokenizer.fromFile(variant("norm.json", (j) => { j.normalizer = { type: "BertNormalizer" }; }))).toThrow("normalizer.type");
    expect(() => HfBpeTokenizer.fromFile(variant("dec.json", (j) => { j.decoder = { type: "WordPiece" }; }))).toThrow("decoder: \"WordPiece\" is not supported");
    expect(() => HfBpeTokenizer.fromFile(variant("merge.json", (j) => { j.model.merges = ["a c"]; }))).toThrow("model.merges[0]: \"a\" + \"c\": c is not in model.vocab");
    // A tiny valid file: "ab" merges, a lone byte with no token is a clear error.
    const tiny = HfBpeTokenizer.fromFile(variant("tiny.json", () => {}));
    expect(Array.from(tiny.encode("abab"))).toEqual([2, 2]);
    expect(() => tiny.encode("c")).toThrow("byte 0x63 has no token");
  });
  test("loadTokenizer tells the formats apart", () => {
    expect(loadTokenizer(LLAMA2C_BIN).kind).toBe("llama2c");
    expect(loadTokenizer(QWEN3_JSON).kind).toBe("hf-bpe");
    expect(loadTokenizer("byte").kind).toBe("byte");
    expect(() => loadTokenizer(join(dir, "nope.json"))).toThrow("no such file");
    expect(() => tokenizerFor("llama2c")).toThrow("needs its file");
  });
});

describe("descriptions and model fit", () => {
  test("a file tokenizer's description rebuilds it and notices a changed file", () => {
    const copy = join(dir, "tok.bin");
    writeFileSync(copy, readFileSync(LLAMA2C_BIN));
    const d = JSON.parse(JSON.stringify(Llama2cTokenizer.fromFile(copy).describe()));
    expect(tokenizerFromDescription(d).encode("hello").join()).toBe(Llama2cTokenizer.fromFile(LLAMA2C_BIN).encode("hello").join());
    const changed = Uint8Array.from(readFileSync(LLAMA2C_BIN));
    changed[4] ^= 1; // token 0's score
    writeFileSync(copy, changed);
    expect(() => tokenizerFromDescription(d)).toThrow("changed since the checkpoint was written");
    expect(tokenizerFromDescription({ kind: "byte" }).vocabSize).toBe(256);
    expect(() => tokenizerFromDescription({ kind: "wordpiece" })).toThrow("unknown tokenizer kind");
  });
  test("checkTokenizerFits: kind and vocabulary size", () => {
    const llama = Llama2cTokenizer.fromFile(LLAMA2C_BIN);
    expect(() => checkTokenizerFits(llama, { name: "stories15m", vocab_size: 32000, tokenizer: "llama2c" })).not.toThrow();
    expect(() => checkTokenizerFits(llama, { name: "small", vocab_size: 256, tokenizer: "byte" })).toThrow("model small expects a byte tokenizer, got llama2c");
    expect(() => checkTokenizerFits(llama, { name: "cut", vocab_size: 4096, tokenizer: "llama2c" })).toThrow("ids 4096..31999 have no embedding row");
    expect(() => checkTokenizerFits(new CharTokenizer(), { name: "chars", vocab_size: 100, tokenizer: "char" })).not.toThrow();
  });
});
