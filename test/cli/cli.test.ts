// The rustane CLI run as a subprocess (`bun src/main.ts ...`), as a user runs it.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pkg from "../../package.json";
import { ADD_MUL_MIL, ADD_MUL_MIL_64, WEIGHT_MIL, fp16Blob, NUMPY_MISSING, python } from "../ffi/helpers.ts";

const root = resolve(import.meta.dir, "../..");
/** ANE_ABI_VERSION as libane/include/ane.h defines it. */
const headerAbi = Number(/#define ANE_ABI_VERSION (\d+)u/.exec(readFileSync(join(root, "libane/include/ane.h"), "utf8"))![1]);
const dir = mkdtempSync(join(tmpdir(), "rustane-cli-"));

// The subprocess runs in a temp folder: a relative $RUSTANE_LIBANE must be made absolute first.
const env = { ...process.env };
if (env.RUSTANE_LIBANE) env.RUSTANE_LIBANE = resolve(env.RUSTANE_LIBANE);

function rustane(...args: string[]): { code: number; stdout: string; stderr: string } {
  const p = Bun.spawnSync([process.execPath, join(root, "src/main.ts"), ...args], { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

/** No stack traces: errors are one clear line (a clipanion usage error may add its usage line). */
function expectNoStack(text: string): void {
  expect(text).not.toMatch(/^\s+at /m);
}

const good = join(dir, "good.mil"); // width 3: computed by hand, run with --chip none
const good64 = join(dir, "good64.mil"); // passes the m4 rules
const bad = join(dir, "bad.mil");
writeFileSync(good, ADD_MUL_MIL);
writeFileSync(good64, ADD_MUL_MIL_64);
// Line 5 uses an undefined value.
writeFileSync(bad, ADD_MUL_MIL.replace("add(x=x, y=y)", "add(x=x, y=nope)"));

describe("rustane", () => {
  test("--version prints package.json's version; `version` adds libane's", () => {
    const v = rustane("--version");
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toBe(pkg.version);
    const full = rustane("version");
    expect(full.code).toBe(0);
    expect(full.stdout).toContain(`rustane ${pkg.version}`);
    expect(full.stdout).toMatch(new RegExp(`libane \\S+ \\(ABI ${headerAbi}, expected ${headerAbi}\\)`));
  });

  test("an unknown command exits 2 with a message on stderr, nothing on stdout", () => {
    const r = rustane("frobnicate");
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("Command not found");
  });

  test("doctor --json is one valid JSON object: cpu works, every chip listed", () => {
    const r = rustane("doctor", "--json");
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d.rustane).toBe(pkg.version);
    expect(d.libane.abi).toBe(headerAbi);
    const cpu = d.backends.find((b: { name: string }) => b.name === "cpu");
    expect(cpu.ok).toBe(true);
    expect(typeof cpu.info).toBe("object");
    for (const b of d.backends) if (!b.ok) expect(b.reason.length).toBeGreaterThan(0);
    expect(d.chips.map((c: { name: string }) => c.name)).toEqual(["m1", "m2", "m3", "m4", "m5", "none"]);
    expect(d.chips.find((c: { name: string }) => c.name === "none").compileLimit).toBe(0);
    expect(d.host.cores).toBeGreaterThan(0);
  });

  test("doctor prints tables", () => {
    const r = rustane("doctor");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^cpu\s+yes/m);
    expect(r.stdout).toContain("chip profiles");
  });

  test("mil check: a good file exits 0", () => {
    const r = rustane("mil", "check", good64, "--chip", "m4");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("0 errors");
  });

  test("mil check: a bad file exits 1 with FILE:LINE:COLUMN findings; --json too", () => {
    const r = rustane("mil", "check", bad, "--chip", "none");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:5:\\d+: error.*nope`));
    const j = rustane("mil", "check", bad, "--chip", "none", "--json");
    expect(j.code).toBe(1);
    const parsed = JSON.parse(j.stdout);
    expect(parsed.ok).toBe(false);
    expect(parsed.findings[0].line).toBe(5);
  });

  test("mil check: a missing file or a bad chip exits 2 with one clear line", () => {
    const r = rustane("mil", "check", join(dir, "missing.mil"));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing\.mil: no such file/);
    expect(r.stderr.trim().split("\n").length).toBe(1);
    const c = rustane("mil", "check", good, "--chip", "m9");
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('--chip: must be one of m1, m2, m3, m4, m5, none (got "m9")');
    expectNoStack(r.stderr + c.stderr);
  });

  test.skipIf(NUMPY_MISSING !== null)("mil run: numpy inputs in, .npy outputs out, numbers as numpy computes them in fp16", () => {
    python(`
import numpy as np, sys
d = sys.argv[1]
np.save(f"{d}/x.npy", np.array([1, 2, 3, 0.1, -4, 1000], dtype=np.float32).reshape(1, 2, 1, 3))
np.save(f"{d}/y.npy", np.array([2**-11, 0.5, -3, 0.2, 4, 0.3], dtype=np.float64).reshape(1, 2, 1, 3))
np.save(f"{d}/yshape.npy", np.zeros((2, 3), dtype=np.float32))
`, [dir]);
    const out = join(dir, "out1");
    const r = rustane("mil", "run", good, "--input", `x=${join(dir, "x.npy")}`, "--input", `y=${join(dir, "y.npy")}`, "--backend", "cpu", "--chip", "none", "--out", out);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^out\s+\[1,2,1,3\]\s+fp16/m);
    expect(r.stdout).toMatch(/eval \d+\.\d+ ms wall/);
    // numpy's float16 rounds to nearest even, like the ANE (no subnormals occur here).
    const check = python(`
import numpy as np, sys
d, out = sys.argv[1], sys.argv[2]
h = np.float16
x = np.load(f"{d}/x.npy").astype(h); y = np.load(f"{d}/y.npy").astype(np.float32).astype(h)
want = ((x + y).astype(h) * h(2)).astype(np.float32)
got = np.load(f"{out}/out.npy")
assert got.dtype == np.float32 and got.shape == (1, 2, 1, 3), (got.dtype, got.shape)
assert np.array_equal(got, want), (got, want)
print(got.ravel()[0])
`, [dir, out]);
    expect(check.trim()).toBe("2.0");

    // A wrong shape is a usage error that names the expected one.
    const s = rustane("mil", "run", good, "--input", `x=${join(dir, "yshape.npy")}`, "--random-inputs", "--chip", "none", "--out", out);
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/shape \[2,3\] does not match input "x" \[1,2,1,3\]/);
    expectNoStack(s.stderr);
  });

  test.skipIf(NUMPY_MISSING !== null)("mil run: --random-inputs is seeded, --weights DIR supplies blobs", () => {
    const wdir = join(dir, "weights");
    Bun.spawnSync(["mkdir", "-p", wdir]);
    writeFileSync(join(wdir, "w.bin"), fp16Blob([0.5, -3]));
    const wmil = join(dir, "weight.mil");
    writeFileSync(wmil, WEIGHT_MIL);
    const runOnce = (seed: string, outName: string) =>
      rustane("mil", "run", wmil, "--weights", wdir, "--random-inputs", "--seed", seed, "--backend", "cpu", "--chip", "none", "--out", join(dir, outName));
    for (const [seed, name] of [["3", "a"], ["3", "b"], ["4", "c"]]) expect(runOnce(seed, name).code).toBe(0);
    const res = python(`
import numpy as np, sys
d = sys.argv[1]
a, b, c = (np.load(f"{d}/{n}/out.npy") for n in "abc")
assert np.array_equal(a, b) and not np.array_equal(a, c)
# x uniform in [-1, 1) rounded to fp16, times 0.5 (channel 0) or -3 (channel 1)
assert np.all(np.abs(a[0, 0]) <= 0.5) and np.all(np.abs(a[0, 1]) <= 3) and np.any(np.abs(a[0, 1]) > 0.5)
print("ok")
`, [dir]);
    expect(res.trim()).toBe("ok");
    const missing = rustane("mil", "run", wmil, "--random-inputs", "--chip", "none", "--out", join(dir, "d"));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/w\.bin.*\[ANE_ERR_WEIGHTS\]/);
  });

  test("mil run: an input with no value, or an unknown --input name, exits 2", () => {
    const r = rustane("mil", "run", good, "--chip", "none", "--out", join(dir, "o"));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('input "x" [1,2,1,3] has no value: give --input x=FILE.npy or --random-inputs');
    const u = rustane("mil", "run", good, "--chip", "none", "--input", "zz=a.npy", "--out", join(dir, "o"));
    expect(u.code).toBe(2);
    expect(u.stderr).toContain("--input zz: the program has no such input (its inputs: x, y)");
    const n = rustane("mil", "run", good, "--numerics", "fp8", "--out", join(dir, "o"));
    expect(n.code).toBe(2);
    expect(n.stderr).toContain('--numerics: must be one of fp16, fp32 (got "fp8")');
    expectNoStack(r.stderr + u.stderr + n.stderr);
  });
});
