// The training loop end to end on the cpu backend: loss falls on the built-in corpus, resume is
// bit-identical, checkpoints are atomic and corruption is a clear error, telemetry follows its
// schema, dynamic loss scaling backs off on overflow, and bad data is a clear error.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { openBackend } from "../../src/ffi/index.ts";
import { loadModelConfig } from "../../src/model/config.ts";
import { Dataset, loadText, loadTokenFile } from "../../src/data/dataset.ts";
import { ByteTokenizer } from "../../src/data/tokenizer.ts";
import { train, type TrainOptions } from "../../src/train/trainer.ts";
import { loadCheckpoint } from "../../src/checkpoint/state.ts";
import { readSafetensors } from "../../src/checkpoint/safetensors.ts";
import { TelemetryRecord } from "../../src/train/telemetry.ts";
import { LossScaler } from "../../src/train/loss-scale.ts";

const backend = openBackend("cpu");
const dir = mkdtempSync(join(tmpdir(), "rustane-loop-"));
afterAll(() => { backend.close(); rmSync(dir, { recursive: true, force: true }); });
const corpus = join(import.meta.dir, "..", "..", "build", "corpus", "brown.txt");

function options(runDir: string, over: Partial<TrainOptions> = {}): TrainOptions {
  const model = loadModelConfig("tiny"), tok = new ByteTokenizer();
  const source = loadText(corpus, tok);
  const small = { ...source, tokens: source.tokens.subarray(0, 200_000) };
  return {
    backend, model, numerics: "fp16", chip: "none", seq: 32, microBatches: 2, steps: 12, lr: 3e-3, minLr: 3e-4, warmup: 2,
    weightDecay: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, clip: 1, actClip: 0, lossScale: 256, lossScaleMode: "static",
    valEvery: 6, valWindows: 4, ckptEvery: 6, logEvery: 3, seed: 3, runDir, telemetryStderr: false, progress: false, quiet: true,
    data: new Dataset(small, model.vocab_size, 32, 0.05), dataBytesPerToken: 1, tokenizer: tok, version: "test", ...over,
  };
}

describe("training loop", () => {
  test("the default small model's loss falls on the built-in corpus", async () => {
    const model = loadModelConfig("small"), tok = new ByteTokenizer();
    const r = await train({ ...options(join(dir, "small")), model, seq: 128, microBatches: 1, steps: 40, lr: 1e-3, warmup: 10,
      data: new Dataset(loadText(corpus, tok), model.vocab_size, 128, 0.05), valEvery: 0, ckptEvery: 0 });
    // from ln(|used vocabulary|) ~ 4.4 at init to clearly below; a model that learned nothing stays near 4.4
    expect(r.firstLoss).toBeGreaterThan(4.0);
    expect(r.finalLoss).toBeLessThan(3.3);
  }, 120_000);

  test("2N steps equal N steps + resume + N steps, every tensor bit for bit", async () => {
    const a = join(dir, "straight"), b = join(dir, "resumed");
    await train(options(a));
    await train({ ...options(b), stopAt: 6 });
    const half = loadCheckpoint(join(b, "latest.safetensors"));
    expect(half.state!.step).toBe(6);
    await train({ ...options(b), resume: half });
    const x = readSafetensors(join(a, "latest.safetensors")), y = readSafetensors(join(b, "latest.safetensors"));
    expect([...x.tensors.keys()].sort()).toEqual([...y.tensors.keys()].sort());
    expect(x.tensors.size).toBeGreaterThan(20);   // weights and both AdamW moments
    for (const [name, t] of x.tensors) {
      const u = y.tensors.get(name)!;
      expect(Buffer.compare(Buffer.from(t.data.buffer), Buffer.from(u.data.buffer))).toBe(0);
    }
    expect(JSON.parse(x.metadata.train_state)).toEqual(JSON.parse(y.metadata.train_state));
  }, 120_000);

  test("telemetry: every line is a valid record, steps carry the timing breakdown", () => {
    const lines = readFileSync(join(dir, "straight", "telemetry.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    for (const l of lines) expect(v.safeParse(TelemetryRecord, l).issues ?? []).toEqual([]);
    const steps = lines.filter((l) => l.type === "step");
    expect(steps.length).toBeGreaterThanOrEqual(4);
    expect(Object.keys(steps[0].kernel_ms).sort()).toEqual(["attn_bwd", "attn_fwd", "ffn_bwd_w13t", "ffn_bwd_w2t", "ffn_fwd", "qkv_bwd", "wo_bwd", "wo_fwd"]);
    expect(lines.some((l) => l.type === "val" && l.val_bpb > 0)).toBe(true);
    expect(lines.filter((l) => l.type === "checkpoint").length).toBeGreaterThanOrEqual(2);
    expect(v.safeParse(TelemetryRecord, { ...steps[0], loss: "low" }).success).toBe(false);
  });

  test("a truncated or corrupted checkpoint is a clear error", () => {
    const good = join(dir, "straight", "latest.safetensors"), bad = join(dir, "bad.safetensors");
    writeFileSync(bad, readFileSync(good));
    truncateSync(bad, statSync(good).size - 100);
    expect(() => loadCheckpoint(bad)).toThrow(/corrupted or truncated/);
    const bytes = readFileSync(good);
    bytes.writeBigUInt64LE(10n ** 12n, 0);
    writeFileSync(bad, bytes);
    expect(() => loadCheckpoint(bad)).toThrow(/header length/);
    writeFileSync(bad, "not a checkpoint");
    expect(() => loadCheckpoint(bad)).toThrow(/corrupted or truncated/);
  });

  test("a checkpoint write that fails leaves the previous checkpoint intact", async () => {
    const run = join(dir, "atomic");
    await train({ ...options(run), steps: 6 });
    const path = join(run, "latest.safetensors"), before = readFileSync(path);
    // Block the temp file the next write needs, so the write fails part-way.
    mkdirSync(join(run, `.latest.safetensors.tmp-${process.pid}`));
    await expect(train({ ...options(run), resume: loadCheckpoint(path) })).rejects.toThrow();
    expect(Buffer.compare(readFileSync(path), before)).toBe(0);
    expect(() => loadCheckpoint(path)).not.toThrow();
  }, 60_000);
});

describe("loss scaling", () => {
  test("dynamic: an overflowing scale skips the step and backs off, then training proceeds", async () => {
    const run = join(dir, "dynamic");
    const r = await train({ ...options(run), lossScaleMode: "dynamic", lossScale: 2 ** 24, steps: 12, valEvery: 0, ckptEvery: 12 });
    const ck = loadCheckpoint(join(run, "latest.safetensors"));
    expect(ck.state!.lossScale.skipped).toBeGreaterThan(0);
    expect(ck.state!.lossScale.scale).toBeLessThan(2 ** 24);
    expect(Number.isFinite(r.finalLoss)).toBe(true);
    const steps = readFileSync(join(run, "telemetry.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((l) => l.type === "step");
    expect(steps.some((s) => s.skipped)).toBe(true);
  }, 60_000);

  test("the scaler's rules", () => {
    const s = new LossScaler("dynamic", 1024, 3);
    expect(s.update(false)).toBe(false); expect(s.scale).toBe(512);
    expect(s.update(true)).toBe(true); expect(s.update(true)).toBe(true); expect(s.scale).toBe(512);
    expect(s.update(true)).toBe(true); expect(s.scale).toBe(1024);
    const st = new LossScaler("static", 256);
    expect(st.update(false)).toBe(false); expect(st.scale).toBe(256);
  });
});

describe("data errors", () => {
  test("a token id >= vocab names the file and the element offset", () => {
    const f = join(dir, "bad.bin"), ids = new Uint16Array(1000).fill(7);
    ids[777] = 300;
    writeFileSync(f, ids);
    const src = loadTokenFile(f, "uint16");
    expect(() => new Dataset(src, 256, 32, 0.1)).toThrow(/token id 300 at element 777.*vocabulary size 256/);
    expect(() => new Dataset(src, 256, 32, 0.1)).toThrow(new RegExp(f.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")));
  });
  test("a file shorter than one sequence is a clear error", () => {
    const f = join(dir, "short.bin");
    writeFileSync(f, new Uint16Array(10));
    expect(() => new Dataset(loadTokenFile(f, "uint16"), 256, 32, 0)).toThrow(/fewer than one training sequence of 33/);
  });
  test("odd-sized and missing files", () => {
    const f = join(dir, "odd.bin");
    writeFileSync(f, new Uint8Array(7));
    expect(() => loadTokenFile(f, "uint16")).toThrow(/not a multiple of 2/);
    expect(() => loadTokenFile(join(dir, "nope.bin"), "uint16")).toThrow(/does not exist/);
    expect(existsSync(f)).toBe(true);
  });
});
