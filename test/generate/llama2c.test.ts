// llama2.c checkpoint import: a tiny model written in llama2.c's legacy format by an independent
// numpy writer (llama2c_writer.py), whose own float64 forward gives the expected logits.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readLlama2c } from "../../src/model/llama2c.ts";
import { openGenerativeModel } from "../../src/generate/model.ts";

const dir = mkdtempSync(join(tmpdir(), "rustane-llama2c-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(shared: boolean, seed: number) {
  const path = join(dir, `model-${shared ? "shared" : "separate"}.bin`);
  const r = Bun.spawnSync(["python3", join(import.meta.dir, "llama2c_writer.py"), path, shared ? "1" : "0", String(seed)]);
  if (r.exitCode !== 0) throw new Error(`llama2c_writer.py failed: ${r.stderr.toString()}`);
  const out = JSON.parse(r.stdout.toString()) as { config: Record<string, number>; tokens: number[]; logits: number[][] };
  return { path, ...out };
}

for (const shared of [true, false]) {
  describe(`llama2.c import, ${shared ? "shared" : "separate"} classifier`, () => {
    const w = write(shared, shared ? 3 : 4);

    test("the header becomes our config", () => {
      const m = readLlama2c(w.path);
      expect(m.config).toMatchObject({ family: "llama", dim: w.config.dim, hidden_dim: w.config.hidden_dim, n_layers: w.config.n_layers,
        n_heads: w.config.n_heads, n_kv_heads: w.config.n_kv_heads, vocab_size: w.config.vocab_size, max_seq_len: w.config.seq_len,
        head_dim: w.config.dim / w.config.n_heads, tied_embeddings: shared, rope: { theta: 10000, style: "interleaved" }, tokenizer: "llama2c" });
      expect(m.layout.byName.has("lm_head.weight")).toBe(!shared);
    });

    test("logits at every position equal the writer's own forward", () => {
      const m = readLlama2c(w.path);
      using g = openGenerativeModel(m, { weights: "fp32" });   // the import exactly (fp16 storage: decoder.test.ts)
      const toks = Int32Array.from(w.tokens);
      g.prefill(toks.subarray(0, 1));
      for (let pos = 0; pos < toks.length; pos++) {
        const got = pos === 0 ? g.prefill(toks.subarray(0, 1)) : g.decodeStep(toks[pos], pos);
        const want = w.logits[pos];
        let err = 0, scale = 0;
        for (let i = 0; i < want.length; i++) { err = Math.max(err, Math.abs(got[i] - want[i])); scale = Math.max(scale, Math.abs(want[i])); }
        if (err > 1e-5 * scale + 1e-5) throw new Error(`position ${pos}: max |logit error| ${err} (max |logit| ${scale})`);
      }
    });

    test("a truncated file is a clear error with expected and actual sizes", () => {
      const bytes = readFileSync(w.path);
      const cut = join(dir, "cut.bin");
      writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
      expect(() => readLlama2c(cut)).toThrow(new RegExp(`${bytes.length - 100} bytes, but .* is ${bytes.length} bytes: the file is truncated`));
      writeFileSync(cut, bytes.subarray(0, 10));
      expect(() => readLlama2c(cut)).toThrow(/too short for a llama2.c checkpoint/);
    });
  });
}

test("a corrupt header is a clear error", () => {
  const p = join(dir, "bad.bin");
  const h = new Int32Array([48, 96, 2, 5, 5, 61, 32]);   // dim 48 not a multiple of 5 heads
  writeFileSync(p, new Uint8Array(h.buffer));
  expect(() => readLlama2c(p)).toThrow(/dim 48 is not a multiple of n_heads 5/);
  writeFileSync(p, new Uint8Array(new Int32Array([0x616b3432, 1, 0, 0, 0, 0, 0]).buffer));
  expect(() => readLlama2c(p)).toThrow(/version-1\/2 export/);
});
