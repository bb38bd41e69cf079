// `rustane generate` and `rustane train --init model.bin` run as subprocesses, as a user runs them.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadModelConfig } from "../../src/model/config.ts";
import { paramLayout } from "../../src/model/params.ts";
import { saveCheckpoint } from "../../src/checkpoint/state.ts";

const root = resolve(import.meta.dir, "../..");
const dir = mkdtempSync(join(tmpdir(), "rustane-generate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { ...process.env };
if (env.RUSTANE_LIBANE) env.RUSTANE_LIBANE = resolve(env.RUSTANE_LIBANE);

function rustane(...args: string[]) {
  const p = Bun.spawnSync([process.execPath, join(root, "src/main.ts"), ...args], { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

// A tiny byte-level model with random weights, saved as a rustane checkpoint.
const c = loadModelConfig("tiny"), layout = paramLayout(c);
const params = new Float32Array(layout.total);
let s = 7;
for (const t of layout.tensors)
  for (let i = 0; i < t.size; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; params[t.offset + i] = t.init === "ones" ? 1 : (s / 2 ** 32 - 0.5); }
const ckpt = join(dir, "tiny.safetensors");
saveCheckpoint(ckpt, { config: c, layout, params, m: null, v: null, state: null, tokenizer: { kind: "byte" }, vocabIds: null, extra: {} });

describe("rustane generate", () => {
  test("streams the prompt and its continuation; cached and --no-cache agree; a summary on stderr", () => {
    const args = ["generate", "--checkpoint", ckpt, "--prompt", "The ", "--max-tokens", "20", "--temperature", "0.8", "--seed", "3"];
    const a = rustane(...args), b = rustane(...args, "--no-cache");
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(a.stdout.startsWith("The ")).toBe(true);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stderr).toMatch(/4 prompt tokens, prefill [\d.]+ ms \(host decoder\); 20 tokens generated, decode [\d.]+ tokens\/s \(KV cache/);
    expect(b.stderr).toMatch(/\(no cache/);
  });

  test("--prefill kernels runs the prompt on the backend's compiled kernels and greedy text is the host path's", () => {
    const args = ["generate", "--checkpoint", ckpt, "--prompt", "The quick brown fox ", "--max-tokens", "16", "--greedy", "--weights", "fp32"];
    const k = rustane(...args, "--prefill", "kernels", "--numerics", "fp32"), h = rustane(...args, "--prefill", "host");
    expect(k.code).toBe(0);
    expect(k.stderr).toMatch(/prefill [\d.]+ ms \(compiled kernels on the cpu backend, fp32\)/);
    expect(h.stderr).toMatch(/\(host decoder\)/);
    expect(k.stdout).toBe(h.stdout);
  });

  test("bad options and files are one-line errors", () => {
    const r1 = rustane("generate", "--checkpoint", join(dir, "missing.safetensors"), "--prompt", "x");
    expect(r1.code).toBe(1);
    expect(r1.stderr).toMatch(/checkpoint .*missing.safetensors does not exist/);
    const r2 = rustane("generate", "--checkpoint", ckpt, "--top-p", "0");
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/--top-p: must be > 0/);
    const r3 = rustane("generate", "--checkpoint", ckpt);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toMatch(/--prompt is empty/);
  });
});

test("rustane train --init accepts a llama2.c .bin", () => {
  const bin = join(dir, "stories-tiny.bin");
  const w = Bun.spawnSync(["python3", join(import.meta.dir, "llama2c_writer.py"), bin, "1", "5"]);
  expect(w.exitCode).toBe(0);
  const data = join(dir, "tokens.bin");
  writeFileSync(data, new Uint8Array(Uint16Array.from({ length: 4000 }, (_, i) => (i * 7) % 61).buffer));
  const r = rustane("train", "--init", bin, "--data", data, "--steps", "2", "--seq", "16", "--numerics", "fp32", "--backend", "cpu",
    "--val-every", "0", "--out", join(dir, "run"), "--quiet");
  if (r.code !== 0) throw new Error(r.stderr);
});

test("a tiny-gpt trained with rustane train, then generated from its checkpoint", () => {
  // Text with a small character set: the tokenizer and the compacted vocabulary are stored in the
  // checkpoint, and generation must only produce those characters.
  const text = join(dir, "py.txt");
  writeFileSync(text, "def add(a, b):\n    return a + b\n\n".repeat(200));
  const run = join(dir, "gpt-run");
  const t = rustane("train", "--model", "tiny-gpt", "--data", text, "--steps", "120", "--seq", "32",
    "--lr", "3e-3", "--numerics", "fp32", "--backend", "cpu", "--val-every", "0", "--ckpt-every", "120", "--out", run, "--quiet");
  if (t.code !== 0) throw new Error(t.stderr);
  const ckpt = join(run, "latest.safetensors");
  const args = ["generate", "--checkpoint", ckpt, "--prompt", "def ", "--max-tokens", "40", "--temperature", "0.7", "--seed", "5"];
  const a = rustane(...args), b = rustane(...args, "--no-cache"), exact = rustane(...args, "--weights", "fp32");
  for (const r of [a, b, exact]) if (r.code !== 0) throw new Error(r.stderr);
  expect(a.stdout.startsWith("def ")).toBe(true);
  expect(b.stdout).toBe(a.stdout);
  expect(a.stderr).toMatch(/4 prompt tokens, prefill [\d.]+ ms \(host decoder\); 40 tokens generated, .*MB of fp16 weights per token/);
  expect(exact.stderr).toMatch(/MB of fp32 weights per token/);
  const allowed = new Set("def add(a, b):\n    return a + b\n");
  const continuation = a.stdout.slice(4).replace(/\n$/, "");
  expect(continuation.length).toBe(40);
  for (const ch of continuation) expect(allowed.has(ch)).toBe(true);
  // 120 steps on one repeated function: the model has learned words of it (not uniform noise).
  expect(/return|add\(|def/.test(a.stdout.slice(4))).toBe(true);
  const bad = rustane("generate", "--checkpoint", ckpt, "--prompt", "x", "--weights", "bf16");
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/--weights: must be one of fp16, fp32/);
});
