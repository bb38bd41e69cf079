// `rustane tokenize` as a subprocess.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { LLAMA2C_BIN, QWEN3_JSON } from "./helpers.ts";

const root = resolve(import.meta.dir, "../..");
const dir = mkdtempSync(join(tmpdir(), "rustane-tokcli-"));
const env = { ...process.env };
if (env.RUSTANE_LIBANE) env.RUSTANE_LIBANE = resolve(env.RUSTANE_LIBANE);

function rustane(...args: string[]): { code: number; stdout: string; stderr: string } {
  const p = Bun.spawnSync([process.execPath, join(root, "src/main.ts"), "tokenize", ...args], { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

describe("rustane tokenize", () => {
  test("encodes to one line of ids; --decode gives the text back; --json adds the tokens", () => {
    const r = rustane("--tokenizer", QWEN3_JSON, "Hello, world!");
    expect(r).toEqual({ code: 0, stdout: "9707 11 1879 0\n", stderr: "" });
    const d = rustane("--tokenizer", QWEN3_JSON, "--decode", "9707, 11,1879 0");
    expect(d).toEqual({ code: 0, stdout: "Hello, world!\n", stderr: "" });
    const j = rustane("--tokenizer", LLAMA2C_BIN, "--json", "--bos", "Hi \u2603");
    expect(j.code).toBe(0);
    const out = JSON.parse(j.stdout);
    expect(out.ids[0]).toBe(1);
    expect(out.tokens.slice(-3)).toEqual(["<0xE2>", "<0x98>", "<0x83>"]); // U+2603 has no piece: UTF-8 bytes
    expect(out.text).toBe("Hi \u2603");
    expect(rustane("--tokenizer", "byte", "é").stdout).toBe("195 169\n");
    expect(rustane("--tokenizer", "char", "--eos", "a").stdout).toBe(`${4 + 0x61 - 0x20} 1\n`);
  }, 30_000); // each Qwen3 run parses an 11 MB tokenizer.json
  test("bad file, bad ids, text outside the alphabet: one line on stderr, exit 2", () => {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, "{ not json");
    const cases = [
      [["--tokenizer", join(dir, "missing.bin"), "x"], "no such file"],
      [["--tokenizer", bad, "x"], "is not valid JSON"],
      [["--tokenizer", LLAMA2C_BIN, "--decode", "1,abc"], "\"abc\" (item 2) is not a token id"],
      [["--tokenizer", LLAMA2C_BIN, "--decode", "32000"], "token id 32000 at position 0 is outside the llama2c vocabulary"],
      [["--tokenizer", "char", "tab\u00e9"], "character 'é' (U+00E9) at character 3"],
      [[], "nothing to do"],
    ] as const;
    for (const [args, message] of cases) {
      const r = rustane(...args);
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 2, stdout: "" });
      expect(r.stderr).toContain(message);
      expect(r.stderr.trim().split("\n").length).toBe(1);
    }
  }, 30_000);
});
