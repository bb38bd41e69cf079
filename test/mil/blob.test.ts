// Weight blob bytes, field by field against the MILBlob storage format (reference/ane-maderix.md
// §3.4), and fp32 -> fp16 weight rounding against an independent bit-level encoder.
import { describe, expect, test } from "bun:test";
import { MilBuilder } from "../../src/mil/index.ts";

/** Reference fp16 encoder from the IEEE 754 definition: exact float64 arithmetic on the value,
 *  round-to-nearest-even, overflow to infinity, gradual underflow. Returns the 16-bit pattern. */
function fp16Bits(v: number): number {
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (Number.isNaN(v)) return 0x7e00;
  const rne = (t: number) => {
    const f = Math.floor(t);
    const d = t - f; // exact: t has few enough significant bits
    return d > 0.5 || (d === 0.5 && f % 2 === 1) ? f + 1 : f;
  };
  if (a < 2 ** -14) return sign | rne(a / 2 ** -24); // subnormal (a mantissa of 1024 becomes the smallest normal)
  let e = 0;
  while (2 ** (e + 1) <= a) e++;
  while (2 ** e > a) e--;
  let m = rne((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e++;
  }
  if (e > 15) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | m;
}

function u32(b: Uint8Array, at: number) {
  return new DataView(b.buffer, b.byteOffset).getUint32(at, true);
}
function u64(b: Uint8Array, at: number) {
  return Number(new DataView(b.buffer, b.byteOffset).getBigUint64(at, true));
}

function single(dtype: "fp16" | "fp32" | "int8" | "uint8", shape: number[], data: Float32Array | Int8Array | Uint8Array) {
  const b = new MilBuilder();
  const w = b.weight("w", dtype, shape, data);
  b.output(b.identity(w));
  const { weights } = b.build();
  return weights.get("@model_path/weights/w.bin")!;
}

describe("blob layout", () => {
  test("one fp16 weight: file header, chunk header at 64, payload at 128", () => {
    const data = new Float32Array([1, -2, 0.5, 65504, 0, -0]);
    const blob = single("fp16", [2, 3], data);
    expect(blob.length).toBe(128 + 12);
    expect(blob[0]).toBe(0x01); // one blob in the file
    expect(u32(blob, 0)).toBe(1);
    expect(blob[4]).toBe(0x02); // storage version 2
    expect(u32(blob, 4)).toBe(2);
    expect([...blob.subarray(8, 64)].every((x) => x === 0)).toBe(true);
    expect([...blob.subarray(64, 68)]).toEqual([0xef, 0xbe, 0xad, 0xde]);
    expect(blob[68]).toBe(0x01); // fp16
    expect(u32(blob, 72)).toBe(12); // payload bytes
    expect(u64(blob, 72)).toBe(12);
    expect(u32(blob, 80)).toBe(128); // absolute payload offset
    expect(u64(blob, 80)).toBe(128);
    expect([...blob.subarray(88, 128)].every((x) => x === 0)).toBe(true);
    const payload = new DataView(blob.buffer, blob.byteOffset + 128);
    const bits = [...data].map((_, i) => payload.getUint16(2 * i, true));
    expect(bits).toEqual([0x3c00, 0xc000, 0x3800, 0x7bff, 0x0000, 0x8000]);
  });

  test("fp32, int8 and uint8 dtype codes and payloads", () => {
    const f = single("fp32", [2], new Float32Array([1.5, -3]));
    expect(u32(f, 68)).toBe(2);
    expect(u32(f, 72)).toBe(8);
    expect(new DataView(f.buffer, f.byteOffset).getFloat32(128, true)).toBe(1.5);
    expect(new DataView(f.buffer, f.byteOffset).getFloat32(132, true)).toBe(-3);
    const i = single("int8", [3], new Int8Array([-128, 0, 127]));
    expect(u32(i, 68)).toBe(4);
    expect([...i.subarray(128)]).toEqual([0x80, 0x00, 0x7f]);
    const u = single("uint8", [2], new Uint8Array([255, 7]));
    expect(u32(u, 68)).toBe(3);
    expect([...u.subarray(128)]).toEqual([255, 7]);
  });

  test("several weights in one file: count, 64-byte aligned chunks, offsets match the text", () => {
    const b = new MilBuilder();
    const a = b.weight("a", "fp16", [3], new Float32Array([1, 2, 3]), { file: "all.bin" }); // 6 bytes
    const c = b.weight("c", "int8", [70], new Int8Array(70).fill(-1), { file: "all.bin" }); // 70 bytes
    const d = b.weight("d", "fp16", [1], new Float32Array([4]), { file: "all.bin" });
    b.output(b.identity(a));
    b.output(b.identity(c));
    b.output(b.identity(d));
    const { text, weights } = b.build();
    const blob = weights.get("@model_path/weights/all.bin")!;
    expect(u32(blob, 0)).toBe(3);
    // a: header 64, payload 128..134 -> c: header 192, payload 256..326 -> d: header 384, payload 448
    const offsets = [...text.matchAll(/all\.bin"\), offset = uint64\((\d+)\)/g)].map((m) => Number(m[1]));
    expect(offsets).toEqual([64, 192, 384]);
    for (const [at, code, size] of [[64, 1, 6], [192, 4, 70], [384, 1, 2]]) {
      expect(u32(blob, at)).toBe(0xdeadbeef);
      expect(u32(blob, at + 4)).toBe(code);
      expect(u64(blob, at + 8)).toBe(size);
      expect(u64(blob, at + 16)).toBe(at + 64);
    }
    expect(blob.length).toBe(448 + 2);
    expect(blob[256]).toBe(0xff);
    expect(new DataView(blob.buffer, blob.byteOffset).getUint16(448, true)).toBe(0x4400); // 4.0
  });
});

describe("fp16 weight rounding", () => {
  test("reference encoder sanity (known bit patterns)", () => {
    expect(fp16Bits(1)).toBe(0x3c00);
    expect(fp16Bits(65504)).toBe(0x7bff);
    expect(fp16Bits(65520)).toBe(0x7c00); // halfway to 2^16 rounds to even -> infinity
    expect(fp16Bits(2 ** -24)).toBe(0x0001);
    expect(fp16Bits(2 ** -25)).toBe(0x0000); // tie, rounds to even 0
    expect(fp16Bits(3 * 2 ** -25)).toBe(0x0002); // tie between 1 and 2 -> 2
    expect(fp16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie -> even mantissa 0
    expect(fp16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie -> even mantissa 2
    expect(fp16Bits(-0.1)).toBe(0xae66);
  });

  test("blob payload equals the reference on ties, boundaries, subnormals and random fp32 values", () => {
    const special = [
      1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -14, 2 ** -14 - 2 ** -25, 2 ** -24, 2 ** -25, 1.5 * 2 ** -25, 2 ** -26,
      65504, 65519, 65519.996, -65504, 6.1e-5, 5.96e-8, 1e-10, 0.1, 1 / 3, Math.PI, -2.5e-7, 2047.5, 2049, 4097,
    ];
    const random = new Float32Array(20000);
    const bits = new Uint32Array(random.buffer);
    let seed = 12345;
    for (let i = 0; i < bits.length; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      // exponents spread over the fp16 range and just beyond it (2^-27 .. 2^16)
      const exp = 100 + (seed % 44);
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      bits[i] = ((seed & 1) << 31) | (exp << 23) | (seed >>> 9);
    }
    const finite = [...special, ...random].filter((v) => (fp16Bits(Math.fround(v)) & 0x7fff) !== 0x7c00);
    const data = new Float32Array(finite);
    const blob = single("fp16", [data.length], data);
    const payload = new DataView(blob.buffer, blob.byteOffset + 128);
    let mismatches = 0;
    for (let i = 0; i < data.length; i++) if (payload.getUint16(2 * i, true) !== fp16Bits(data[i])) mismatches++;
    expect(mismatches).toBe(0);
    expect(data.length).toBeGreaterThan(15000); // most random values are in range
  });

  test("values that overflow fp16 are refused with the element index", () => {
    const b = new MilBuilder();
    expect(() => b.weight("big", "fp16", [3], new Float32Array([1, 65520, 2]))).toThrow(/weight big: element 1 .*not a finite fp16/);
    expect(() => b.weight("nan", "fp32", [1], new Float32Array([NaN]))).toThrow(/weight nan: element 0/);
  });
});
