// `rustane train` and `rustane check` as a user runs them (subprocesses from an empty folder).
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "../..");
const dir = mkdtempSync(join(tmpdir(), "rustane-train-cli-"));
const env = { ...process.env };
if (env.RUSTANE_LIBANE) env.RUSTANE_LIBANE = resolve(env.RUSTANE_LIBANE);

function rustane(...args: string[]) {
  const p = Bun.spawnSync([process.execPath, join(root, "src/main.ts"), ...args], { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

describe("rustane train", () => {
  test("with no data it trains the default model on the built-in corpus and leaves a resumable checkpoint", () => {
    const out = join(dir, "run");
    const r = rustane("train", "--steps", "12", "--log-every", "4", "--val-every", "6", "--ckpt-every", "6", "--out", out);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("model small");
    expect(r.stdout).toContain("Brown corpus (built in)");
    expect(r.stdout).toMatch(/step 12\/12 +loss \d+\.\d+/);
    expect(r.stdout).toContain(`checkpoint: ${join(out, "latest.safetensors")}`);
    expect(existsSync(join(out, "best.safetensors"))).toBe(true);
    const lines = readFileSync(join(out, "telemetry.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines[0].type).toBe("start");
    expect(lines.at(-1).type).toBe("end");
    // a second run into the same folder is refused instead of overwriting it
    const again = rustane("train", "--steps", "2", "--out", out);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already holds a run.*--resume/);
    // resume continues from step 12 to 16
    const res = rustane("train", "--resume", join(out, "latest.safetensors"), "--steps", "16", "--log-every", "4");
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/step 16\/16/);
    expect(res.stdout).not.toMatch(/step 4\/16/);
  }, 120_000);

  test("bad options and bad data are one-line errors with usage exit codes", () => {
    const cases: Array<[string[], RegExp]> = [
      [["train", "--steps", "0"], /--steps: must be >= 1/],
      [["train", "--seq", "100000"], /--seq: must be <= 256/],
      [["train", "--model", "nope"], /unknown model 'nope'/],
      [["train", "--numerics", "fp8"], /--numerics/],
      [["train", "--data", join(dir, "missing.txt")], /does not exist/],
    ];
    for (const [args, msg] of cases) {
      const r = rustane(...args);
      expect(r.code).toBeGreaterThan(0);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ name: "x", family: "llama", dim: 64 }));
    const r = rustane("train", "--model", bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/invalid model config .*n_layers/s);
  });
});

describe("rustane check", () => {
  test("reports every kernel under every chip profile, and details for one chip", () => {
    const r = rustane("check", "--model", "tiny-qwen3", "--seq", "32", "--json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(Object.keys(j.results).sort()).toEqual(["attn_bwd", "attn_fwd", "ffn_bwd_w13t", "ffn_bwd_w2t", "ffn_fwd", "qkv_bwd", "wo_bwd", "wo_fwd"]);
    for (const k of Object.values(j.results) as Array<Record<string, { ok: boolean }>>)
      expect(Object.keys(k).sort()).toEqual(["m1", "m2", "m3", "m4", "m5"]);
    // Stories110M's kernels at seq 256 are what the device trains with: accepted by M4 and M5.
    const s = JSON.parse(rustane("check", "--model", "stories110m", "--json").stdout);
    for (const k of Object.values(s.results) as Array<Record<string, { ok: boolean }>>) { expect(k.m4.ok).toBe(true); expect(k.m5.ok).toBe(true); }
    const one = rustane("check", "--model", "tiny", "--chip", "m4", "--seq", "32");
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/attn_fwd +ok/);
    expect(rustane("check", "--model", "tiny", "--chip", "m9").code).toBe(2);
  }, 60_000);
});
