// src/ffi against the real libane (build/host/libane.so, or $RUSTANE_LIBANE): every wrapper, its errors
// and handle lifetimes, checked against hand-computed values and an independent fp16 rounding.
import { describe, expect, test } from "bun:test";
import * as ffi from "../../src/ffi/index.ts";
import { LibaneError, type IoDesc } from "../../src/ffi/index.ts";
import { ADD_MUL_MIL, ADD_MUL_MIL_64, WEIGHT_MIL, fp16Blob, milProgram, roundFp16 } from "./helpers.ts";

/** Asserts that fn throws a LibaneError with this status name and a message containing `what`. */
function expectLibaneError(fn: () => unknown, statusName: string, what: string | RegExp): LibaneError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LibaneError);
    const err = e as LibaneError;
    expect(err.statusName).toBe(statusName);
    expect(err.status).toBeGreaterThan(0);
    expect(err.message).toMatch(what);
    return err;
  }
  throw new Error(`expected a LibaneError ${statusName}`);
}

// A surface layout not taken from any program: [1,2,1,3] with 64-byte rows, as the chip profiles align.
const io16: IoDesc = { name: "t", dtype: "fp16", shape: [1, 2, 1, 3], rowStrideBytes: 64, bytes: 128 };
const io32: IoDesc = { ...io16, dtype: "fp32" };

describe("library", () => {
  test("loads, reports its path, version and the ABI this code expects", () => {
    expect(ffi.libanePath()).toMatch(/libane|\.so|\.dylib/);
    expect(ffi.abiVersion()).toBe(ffi.EXPECTED_ABI_VERSION);
    expect(ffi.libaneVersion()).toMatch(/\d/);
  });

  test("backends: cpu is compiled in and works; an unknown name says why not", () => {
    expect(ffi.backendNames()).toContain("cpu");
    expect(ffi.probeBackend("cpu")).toEqual({ ok: true, reason: "" });
    const bad = ffi.probeBackend("no-such-backend");
    expect(bad.ok).toBe(false);
    expect(bad.reason.length).toBeGreaterThan(0);
    expectLibaneError(() => ffi.openBackend("no-such-backend"), "ANE_ERR_NO_BACKEND", /opening backend "no-such-backend": ./);
  });

  test("chip profiles, compile budget", () => {
    expect(ffi.chipNames()).toEqual(["m1", "m2", "m3", "m4", "m5", "none"]);
    const m4 = ffi.chipProfile("m4");
    expect(typeof m4).toBe("object");
    expect(JSON.stringify(m4)).toContain("m4");
    expect(ffi.compileLimit("none")).toBe(0);
    expect(ffi.compileLimit("m4")).toBeGreaterThan(0);
    const err = expectLibaneError(() => ffi.chipProfile("m9"), "ANE_ERR_INVALID_ARG", /^reading chip profile "m9": ./);
    expect(err.message).toContain("m9");
  });

  test("threads round-trip; 0 restores the default", () => {
    const before = ffi.getThreads();
    ffi.setThreads(1);
    expect(ffi.getThreads()).toBe(1);
    ffi.setThreads(0);
    expect(ffi.getThreads()).toBe(before);
    expect(() => ffi.setThreads(-1)).toThrow(RangeError);
  });

  test("fillUniform is seeded, in [lo, hi), and differs between seeds", () => {
    const a = new Float32Array(1000), b = new Float32Array(1000), c = new Float32Array(1000);
    ffi.fillUniform(a, 7, -1, 1);
    ffi.fillUniform(b, 7, -1, 1);
    ffi.fillUniform(c, 8, -1, 1);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    let mean = 0;
    for (const v of a) {
      expect(v >= -1 && v < 1).toBe(true);
      mean += v / a.length;
    }
    expect(Math.abs(mean)).toBeLessThan(0.1); // 1000 draws: sd of the mean is 0.018
  });

  test("fp16 conversion helpers match the independent rounding", () => {
    const xs = new Float32Array([0.1, 1 / 3, -2.5, 65504, 70000, 1e-8, 2 ** -14, 1 + 2 ** -11, 1 + 3 * 2 ** -11]);
    const back = ffi.fp16ToFloat32(ffi.float32ToFp16(xs));
    expect([...back]).toEqual([...xs].map(roundFp16));
  });
});

describe("surfaces", () => {
  test("fp32 -> fp16 write and read back: values rounded as fp16, rows at the stride, padding untouched", () => {
    using b = ffi.openBackend("cpu");
    using s = b.createSurface(128);
    expect(s.size).toBeGreaterThanOrEqual(128);
    // Ties (1 + 2^-11 -> 1, 1 + 3*2^-11 -> 1 + 2^-9), overflow to inf, a subnormal flushed, the min normal kept.
    const xs = new Float32Array([1 + 2 ** -11, 1 + 3 * 2 ** -11, 70000, 1e-7, 2 ** -14, -1 / 3]);
    s.write(io16, xs);
    const back = s.read(io16);
    expect([...back]).toEqual([...xs].map(roundFp16));
    expect(back[2]).toBe(Infinity);
    expect(back[3]).toBe(0);
    // The whole surface as one row of 64 fp16: row 1 starts at element 32 (64 bytes), the rest is zero.
    const raw = s.read({ name: "raw", dtype: "fp16", shape: [64], rowStrideBytes: 128, bytes: 128 });
    expect([...raw.subarray(0, 3)]).toEqual([...back.subarray(0, 3)]);
    expect([...raw.subarray(32, 35)]).toEqual([...back.subarray(3, 6)]);
    expect(raw.subarray(3, 32).every((v) => v === 0)).toBe(true);
    expect(raw.subarray(35).every((v) => v === 0)).toBe(true);
  });

  test("fp32 and integer round trips are exact", () => {
    using b = ffi.openBackend("cpu");
    using s = b.createSurface(128);
    const xs = new Float32Array([0.1, -3.25, 1e-30, 65519, 1e9, -0]);
    s.write(io32, xs);
    expect(s.read(io32)).toEqual(xs);
    const ioI32: IoDesc = { ...io16, dtype: "int32" };
    s.write(ioI32, new Int32Array([1, -2, 3, 2 ** 30, -(2 ** 31), 7]));
    expect([...s.read(ioI32)]).toEqual([1, -2, 3, 2 ** 30, -(2 ** 31), 7]);
    const ioI8: IoDesc = { ...io16, dtype: "int8" };
    s.write(ioI8, new Int8Array([-128, 127, 0, 1, -1, 5]));
    expect([...s.read(ioI8)]).toEqual([-128, 127, 0, 1, -1, 5]);
  });

  test("write checks element count, host dtype and surface size", () => {
    using b = ffi.openBackend("cpu");
    using s = b.createSurface(128);
    expect(() => s.write(io16, new Float32Array(5))).toThrow(/needs 6 elements but got 5/);
    expect(() => s.write(io16, new Int32Array(6))).toThrow(/is fp16 but the host array is int32/);
    using small = b.createSurface(64);
    expect(() => small.write(io16, new Float32Array(6))).toThrow(/needs 128 bytes but the surface has/);
  });

  test("lock returns an address; a second lock fails with libane's message; unlock allows it again", () => {
    using b = ffi.openBackend("cpu");
    using s = b.createSurface(64);
    expect(s.lock()).toBeGreaterThan(0);
    expectLibaneError(() => s.lock(), "ANE_ERR_STATE", /^locking a 64-byte surface: ./);
    s.unlock();
    expect(s.lock(true)).toBeGreaterThan(0);
    s.unlock();
  });
});

describe("handles", () => {
  test("using-disposal frees: the handle throws after its scope", () => {
    let escaped: ffi.Surface;
    let backend: ffi.Backend;
    {
      using b = ffi.openBackend("cpu");
      backend = b;
      using s = b.createSurface(64);
      escaped = s;
      expect(s.lock()).toBeGreaterThan(0);
      s.unlock();
    }
    expect(() => escaped.lock()).toThrow(/Surface was already freed/);
    expect(() => backend.createSurface(64)).toThrow(/Backend was already freed/);
  });

  test("double free is a no-op; use after free throws for every handle", () => {
    const b = ffi.openBackend("cpu");
    const p = b.compile(ADD_MUL_MIL, { chip: "none" });
    const s = b.createSurface(128);
    const r = p.request([s, b.createSurface(128)], [b.createSurface(128)]);
    r.free();
    r.free();
    expect(() => r.eval()).toThrow(/Request was already freed/);
    p.free();
    p.free();
    expect(() => p.load()).toThrow(/Program was already freed/);
    s.release();
    s.release();
    expect(() => s.read(io16)).toThrow(/Surface was already freed/);
    b.close();
    b.close();
    expect(() => b.info()).toThrow(/Backend was already freed/);
  });

  test("freeing a parent first frees its children instead of leaving dangling handles", () => {
    const b = ffi.openBackend("cpu");
    const p = b.compile(ADD_MUL_MIL, { chip: "none" });
    p.load();
    const ins = [b.createSurface(128), b.createSurface(128)];
    const out = b.createSurface(128);
    const r = p.request(ins, [out]);
    ins[0].release(); // the request was bound to it
    expect(() => r.eval()).toThrow(/Request was already freed/);
    b.close();
    expect(() => p.load()).toThrow(/Program was already freed/);
    expect(() => out.lock()).toThrow(/Surface was already freed/);
  });
});

describe("programs", () => {
  const x = new Float32Array([1, 2, 3, 0.1, -4, 1000]);
  const y = new Float32Array([2 ** -11, 0.5, -3, 0.2, 4, 0.3]);

  test("compile reports inputs and outputs in program order with their layout", () => {
    using b = ffi.openBackend("cpu");
    using p = b.compile(ADD_MUL_MIL_64, { chip: "m4" });
    expect(p.inputs.map((io) => io.name)).toEqual(["x", "y"]);
    expect(p.outputs.map((io) => io.name)).toEqual(["out"]);
    for (const io of [...p.inputs, ...p.outputs]) {
      expect(io.dtype).toBe("fp16");
      expect(io.shape).toEqual([1, 2, 1, 64]);
      expect(io.rowStrideBytes).toBe(128); // 64 fp16, already a multiple of the row alignment
      expect(io.bytes).toBeGreaterThanOrEqual(2 * 128);
    }
    using small = b.compile(ADD_MUL_MIL, { chip: "none" });
    expect(small.inputs[0].shape).toEqual([1, 2, 1, 3]);
    expect(small.inputs[0].rowStrideBytes).toBeGreaterThanOrEqual(6);
    expect(small.inputs[0].bytes).toBeGreaterThanOrEqual(small.inputs[0].rowStrideBytes + 6);
  });

  test("a chip rule violation is an ANE_ERR_RULE naming the rule", () => {
    using b = ffi.openBackend("cpu");
    expectLibaneError(() => b.compile(ADD_MUL_MIL, { chip: "m4" }), "ANE_ERR_RULE", /^compiling MIL on the cpu backend for chip m4: ./);
  });

  test("runProgram, fp16 numerics: every op result rounded to fp16", () => {
    using b = ffi.openBackend("cpu");
    const r = ffi.runProgram(b, ADD_MUL_MIL, { x, y }, { chip: "none" });
    const want = [...x].map((xi, i) => roundFp16(2 * roundFp16(roundFp16(xi) + roundFp16(y[i]))));
    expect([...r.outputs.out]).toEqual(want);
    expect(r.outputs.out[0]).toBe(2); // 1 + 2^-11 is a tie that rounds to 1 in fp16
    expect(r.shapes.out).toEqual([1, 2, 1, 3]);
    expect(r.timing.wallMs).toBeGreaterThanOrEqual(0);
    expect(r.timing.hwMs === null || r.timing.hwMs >= 0).toBe(true);
  });

  test("runProgram, fp32 numerics: the ops in fp32 (inputs still stored as fp16)", () => {
    using b = ffi.openBackend("cpu");
    const r = ffi.runProgram(b, ADD_MUL_MIL, { x, y }, { chip: "none", numerics: "fp32" });
    const want = [...x].map((xi, i) => Math.fround(2 * Math.fround(roundFp16(xi) + roundFp16(y[i]))));
    // The fp16 output surface holds the result: one final rounding to fp16.
    expect([...r.outputs.out]).toEqual(want.map(roundFp16));
  });

  test("runProgram: missing, unknown and ill-sized inputs are errors that name them", () => {
    using b = ffi.openBackend("cpu");
    expect(() => ffi.runProgram(b, ADD_MUL_MIL, { x }, { chip: "none" })).toThrow(/missing "y"/);
    expect(() => ffi.runProgram(b, ADD_MUL_MIL, { x, y, z: x }, { chip: "none" })).toThrow(/unknown "z"/);
    expect(() => ffi.runProgram(b, ADD_MUL_MIL, { x, y: y.subarray(1) }, { chip: "none" })).toThrow(/"y" is \[1,2,1,3\] = 6 elements but 5/);
  });

  test("weights: a BLOBFILE constant comes from the weight map", () => {
    using b = ffi.openBackend("cpu");
    const weights = new Map([["@model_path/weights/w.bin", fp16Blob([0.5, -3])]]);
    const r = ffi.runProgram(b, WEIGHT_MIL, { x }, { chip: "none", weights });
    const want = [...x].map((xi, i) => roundFp16(roundFp16(xi) * (i < 3 ? 0.5 : -3)));
    expect([...r.outputs.out]).toEqual(want);
    // Without the blob the compile fails and says which weight is missing.
    expectLibaneError(() => b.compile(WEIGHT_MIL, { chip: "none" }), "ANE_ERR_WEIGHTS", /w\.bin/);
  });

  test("compile errors carry libane's status name and the MIL line:column", () => {
    using b = ffi.openBackend("cpu");
    const bad = ADD_MUL_MIL.replace("add(x=x, y=y)", "add(x=x, y=nope)");
    const err = expectLibaneError(() => b.compile(bad, { chip: "none" }), "ANE_ERR_PARSE", /^compiling MIL on the cpu backend for chip none: /);
    expect(err.message).toMatch(/5:\d+|line 5/);
    expect(err.message).toContain("nope");
  });

  test("request binding and eval-before-load errors", () => {
    using b = ffi.openBackend("cpu");
    using p = b.compile(ADD_MUL_MIL, { chip: "none" });
    const s = () => b.createSurface(p.inputs[0].bytes);
    expectLibaneError(() => p.request([s()], [s()]), "ANE_ERR_BINDING", /^binding 1 input and 1 output surfaces: ./);
    using r = p.request([s(), s()], [s()]);
    expectLibaneError(() => r.eval(), "ANE_ERR_STATE", /^evaluating a request: ./);
    p.load();
    expect(r.eval().wallMs).toBeGreaterThanOrEqual(0);
  });

  test("compile counts against the budget; the counter moves by one per compile", () => {
    using b = ffi.openBackend("cpu");
    const before = ffi.compileCount();
    b.compile(ADD_MUL_MIL, { chip: "none" }).free();
    expect(ffi.compileCount()).toBe(before + 1);
  });
});

describe("milCheck", () => {
  test("a good program has no errors", () => {
    const r = ffi.milCheck(ADD_MUL_MIL_64, { chip: "m4" });
    expect(r.ok).toBe(true);
    expect(r.findings.filter((f) => f.severity === "error")).toEqual([]);
  });

  test("a bad program: findings with line, column and message", () => {
    const bad = milProgram(["tensor<fp16, [1, 2, 1, 3]> x"], ['tensor<fp16, [1, 2, 1, 3]> out = frobnicate(x=x)[name=string("out")];'], ["out"]);
    const r = ffi.milCheck(bad, { chip: "none" });
    expect(r.ok).toBe(false);
    const errors = r.findings.filter((f) => f.severity === "error");
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0].line).toBe(5);
    expect(errors[0].column).toBeGreaterThan(0);
    expect(errors[0].message).toContain("frobnicate");
  });

  test("an unknown chip is a LibaneError, not an empty finding list", () => {
    expectLibaneError(() => ffi.milCheck(ADD_MUL_MIL, { chip: "m9" }), "ANE_ERR_INVALID_ARG", /m9/);
  });
});

describe("loading", () => {
  // Module state (the loaded library) is per process, so these run a fresh bun on a tiny library.
  const cc = Bun.which("cc");
  test.skipIf(!cc)("a library of another ABI is refused with the rebuild message", () => {
    const dir = require("node:fs").mkdtempSync(require("node:path").join(require("node:os").tmpdir(), "rustane-abi-"));
    const src = `${dir}/abi99.c`;
    require("node:fs").writeFileSync(src, "unsigned ane_abi_version(void) { return 99; }\n");
    const so = `${dir}/libabi99.so`;
    expect(Bun.spawnSync([cc!, "-shared", "-fPIC", "-o", so, src]).exitCode).toBe(0);
    const p = Bun.spawnSync([process.execPath, "-e", `import { abiVersion } from ${JSON.stringify(require("node:path").resolve(import.meta.dir, "../../src/ffi/index.ts"))}; try { abiVersion(); } catch (e) { console.log(e.message); }`],
      { env: { ...process.env, RUSTANE_LIBANE: so }, stdout: "pipe", stderr: "pipe" });
    expect(p.stdout.toString()).toContain(`libane ABI 99 but this rustane expects ${ffi.EXPECTED_ABI_VERSION}: rebuild with make`);
  });

  test("a missing $RUSTANE_LIBANE file is a clear error", () => {
    const p = Bun.spawnSync([process.execPath, "-e", `import { libanePath } from ${JSON.stringify(require("node:path").resolve(import.meta.dir, "../../src/ffi/index.ts"))}; try { libanePath(); } catch (e) { console.log(e.message); }`],
      { env: { ...process.env, RUSTANE_LIBANE: "/nonexistent/libane.so" }, stdout: "pipe", stderr: "pipe" });
    expect(p.stdout.toString()).toContain("libane not found: RUSTANE_LIBANE=/nonexistent/libane.so does not exist");
  });
});
