// The ANE's fp16 numerics as the cpu backend reproduces them: subnormal flush, overflow to inf,
// rounding after every op, and the gradient underflow that loss scaling exists for.

import { describe, expect, test } from "bun:test";
import { fp16 } from "../reference/fp16.ts";
import { run } from "../ops/harness.ts";
import { call, constString, program } from "../ops/mil.ts";

/** z = x * y (or another binary op) over vectors of length n, all tensors of `dtype`. */
function binaryProgram(op: string, dtype: string, n: number): string {
  const shape = [1, n];
  return program(
    [{ name: "x", dtype, shape }, { name: "y", dtype, shape }],
    [call("z", dtype, shape, op, { x: "x", y: "y" })],
    ["z"],
  );
}

const f32 = (xs: number[]) => Float32Array.from(xs);

describe("subnormal flush", () => {
  const x = fp16(1e-3), y = fp16(1e-3); // exact product ≈ 1.0008e-6, below 2^-14 ≈ 6.1e-5

  test("a mul whose exact result is ~1e-6 gives 0 in fp16 numerics", () => {
    const out = run(binaryProgram("mul", "fp16", 1), { x: f32([x]), y: f32([y]) }, "fp16").outputs.z;
    expect(Array.from(out)).toEqual([0]);
  });

  test("the same mul is nonzero in fp32 numerics", () => {
    const out = run(binaryProgram("mul", "fp32", 1), { x: f32([x]), y: f32([y]) }, "fp32").outputs.z;
    expect(Math.abs(out[0] - x * y)).toBeLessThanOrEqual(1e-7 * x * y);
  });

  test("fp16 numerics flush even when the program's I/O is fp32 (cast in, mul, cast out)", () => {
    const shape = [1, 1];
    const mil = program(
      [{ name: "x", dtype: "fp32", shape }, { name: "y", dtype: "fp32", shape }],
      [
        constString("h", "fp16"), constString("f", "fp32"),
        call("xh", "fp16", shape, "cast", { x: "x", dtype: "h" }),
        call("yh", "fp16", shape, "cast", { x: "y", dtype: "h" }),
        call("zh", "fp16", shape, "mul", { x: "xh", y: "yh" }),
        call("z", "fp32", shape, "cast", { x: "zh", dtype: "f" }),
      ],
      ["z"],
    );
    expect(Array.from(run(mil, { x: f32([x]), y: f32([y]) }, "fp16").outputs.z)).toEqual([0]);
  });

  test("fp32 tensors in fp16 numerics are rounded and flushed too (every op result is fp16)", () => {
    const out = run(binaryProgram("mul", "fp32", 2), { x: f32([1e-3, 0.1]), y: f32([1e-3, 3]) }, "fp16").outputs.z;
    expect(Array.from(out)).toEqual([0, fp16(fp16(0.1) * 3)]);
  });
});

describe("overflow", () => {
  test("an add past 65504 gives +inf in fp16 numerics, the exact sum in fp32", () => {
    const xs = [60000, -60000, 65504, 65504, 32768];
    const ys = [10000, -10000, 16, 15, 32752];
    // 65504 + 16 = 65520 is the tie between 65504 and 2^16, which rounds to even: inf.
    const want16 = [Infinity, -Infinity, Infinity, 65504, Infinity];
    xs.forEach((x, i) => expect(fp16(x + ys[i])).toBe(want16[i])); // the reference agrees
    const h = run(binaryProgram("add", "fp16", xs.length), { x: f32(xs), y: f32(ys) }, "fp16").outputs.z;
    expect(Array.from(h)).toEqual(want16);
    const s = run(binaryProgram("add", "fp32", xs.length), { x: f32(xs), y: f32(ys) }, "fp32").outputs.z;
    expect(Array.from(s)).toEqual(xs.map((x, i) => x + ys[i]));
  });

  test("a mul overflowing to -inf, and exp past ln(65520)", () => {
    const h = run(binaryProgram("mul", "fp16", 2), { x: f32([300, 2]), y: f32([-300, 3]) }, "fp16").outputs.z;
    expect(Array.from(h)).toEqual([-Infinity, 6]);
    const shape = [1, 2];
    const mil = program([{ name: "x", dtype: "fp16", shape }], [call("y", "fp16", shape, "exp", { x: "x" })], ["y"]);
    const e = run(mil, { x: f32([12, 11]) }, "fp16").outputs.y; // e^12 ≈ 162755, e^11 ≈ 59874
    expect(e[0]).toBe(Infinity);
    expect(Math.abs(e[1] - fp16(Math.exp(11)))).toBeLessThanOrEqual(32);
  });
});

describe("rounding after each op", () => {
  // x*a = (1+2^-10)^2 = 1 + 2^-9 + 2^-20: rounding it to fp16 drops the 2^-20. Adding
  // b = 2^-11 then lands exactly on the tie 1 + 5*2^-11 (rounds to even: 1 + 2^-9), while the
  // once-rounded exact value 1 + 5*2^-11 + 2^-20 rounds up to 1 + 3*2^-10. Scaled by powers of
  // two (k) the same happens in every binade; the second half flips signs.
  const ks = [-1, 0, 2, 5, 7]; // keeps b = 2^(2k-11) normal and x*a below 65504
  const xs: number[] = [], as: number[] = [], bs: number[] = [];
  for (const sign of [1, -1])
    for (const k of ks) {
      xs.push(sign * (1 + 2 ** -10) * 2 ** k);
      as.push((1 + 2 ** -10) * 2 ** k);
      bs.push(sign * 2 ** -11 * 2 ** (2 * k));
    }
  const once = xs.map((x, i) => fp16(x * as[i] + bs[i]));
  const twice = xs.map((x, i) => fp16(fp16(x * as[i]) + bs[i]));

  const shape = [1, xs.length];
  const chain = (dt: string) =>
    program(
      [{ name: "x", dtype: dt, shape }, { name: "a", dtype: dt, shape }, { name: "b", dtype: dt, shape }],
      [call("p", dt, shape, "mul", { x: "x", y: "a" }), call("z", dt, shape, "add", { x: "p", y: "b" })],
      ["z"],
    );

  test("the constructed values tell the two apart", () => {
    xs.forEach((x, i) => {
      expect(fp16(x)).toBe(x);
      expect(fp16(as[i])).toBe(as[i]);
      expect(fp16(bs[i])).toBe(bs[i]);
      expect(twice[i]).not.toBe(once[i]);
    });
  });

  test("(x*a)+b in fp16 numerics matches the twice-rounded reference", () => {
    const z = run(chain("fp16"), { x: f32(xs), a: f32(as), b: f32(bs) }, "fp16").outputs.z;
    expect(Array.from(z)).toEqual(twice);
  });

  test("(x*a)+b in fp32 numerics is exact (no fp16 rounding)", () => {
    const z = run(chain("fp32"), { x: f32(xs), a: f32(as), b: f32(bs) }, "fp32").outputs.z;
    expect(Array.from(z)).toEqual(xs.map((x, i) => x * as[i] + bs[i]));
  });
});

describe("gradient underflow and loss scaling", () => {
  // Backward products like grad ~8e-5 times weight ~0.036 are ~3e-6: below fp16's smallest
  // normal, so the ANE returns 0. Scaling the grads by 256 first (exact: a power of two)
  // keeps the products normal; dividing by 256 in fp32 on the host recovers them.
  const grads = [8e-5, -9e-5, 1.2e-4, 7e-5].map(fp16);
  const weights = [0.036, 0.02, -0.03, 0.01].map(fp16);
  const mulProgram = binaryProgram("mul", "fp16", grads.length);

  test("without scaling every product vanishes", () => {
    const z = run(mulProgram, { x: f32(grads), y: f32(weights) }, "fp16").outputs.z;
    expect(Array.from(z, Math.abs)).toEqual([0, 0, 0, 0]);
  });

  test("with a x256 scale and /256 in fp32 on the host they survive to fp16 precision", () => {
    const scaled = grads.map((g) => g * 256);
    const z = run(mulProgram, { x: f32(scaled), y: f32(weights) }, "fp16").outputs.z;
    grads.forEach((g, i) => {
      const exact = g * weights[i];
      const recovered = Math.fround(z[i] / 256);
      expect(recovered).not.toBe(0);
      expect(Math.abs(recovered - exact)).toBeLessThanOrEqual(2 ** -11 * Math.abs(exact)); // one fp16 rounding
    });
  });
});
