// Emitted programs against libane: its MIL front end must accept both dialects, and the cpu
// backend must evaluate the dynamic matmul to the float64 Wᵀx within fp16 tolerance.
// Skipped (with the reason printed) when libane has not been built.
import { describe, expect, test } from "bun:test";
import { MilBuilder, dynamicMatmul, packDynamicMatmulInput, type Dialect } from "../../src/mil/index.ts";
import { everyOp, randoms } from "./programs.ts";

let ffi: typeof import("../../src/ffi/index.ts") | null = null;
let why = "";
try {
  ffi = await import("../../src/ffi/index.ts");
  ffi.abiVersion(); // loads the library
} catch (e) {
  why = (e as Error).message;
  ffi = null;
}
if (!ffi) console.warn(`test/mil/libane.test.ts skipped: libane not available (${why})`);

const DIALECTS: Dialect[] = ["ios18", "ios16"];

describe.skipIf(!ffi)("libane accepts the emitted MIL", () => {
  for (const dialect of DIALECTS) {
    test(`every op, ${dialect}`, () => {
      const { text, weights } = everyOp(dialect);
      const res = ffi!.milCheck(text, { weights });
      expect(res.findings.filter((f) => f.severity === "error")).toEqual([]);
      expect(res.ok).toBe(true);
    });
    test(`dynamic matmul compiles on the cpu backend, ${dialect}`, () => {
      const b = new MilBuilder({ dialect });
      b.output(dynamicMatmul(b, b.input("x", "fp16", [1, 64, 1, 96]), { ic: 64, oc: 64, seq: 32, actOffset: 0, weightOffset: 32 }), "y");
      using backend = ffi!.openBackend("cpu");
      using program = backend.compile(b.build().text);
      expect(program.inputs.map((io) => [io.name, io.dtype, io.shape])).toEqual([["x", "fp16", [1, 64, 1, 96]]]);
      expect(program.outputs.map((io) => [io.name, io.dtype, io.shape])).toEqual([["y", "fp16", [1, 64, 1, 32]]]);
    });
  }

  test("dynamic matmul on the cpu backend equals the float64 Wᵀx within fp16 tolerance", () => {
    const ic = 64, seq = 32, oc = 96;   // oc != ic catches a transposed weight; 128-wide rows meet the m4 row alignment
    const x = randoms(ic * seq, 7), w = randoms(ic * oc, 8);
    using backend = ffi!.openBackend("cpu");
    for (const dialect of DIALECTS) {
      const b = new MilBuilder({ dialect });
      const packed = b.input("x", "fp16", [1, ic, 1, seq + oc]);
      b.output(dynamicMatmul(b, packed, { ic, oc, seq, actOffset: 0, weightOffset: seq }), "y");
      const { outputs, shapes } = ffi!.runProgram(backend, b.build().text, { x: packDynamicMatmulInput(x, w, ic, seq, oc) });
      expect(shapes.y).toEqual([1, oc, 1, seq]);
      const y = outputs.y;
      for (let o = 0; o < oc; o++) for (let s = 0; s < seq; s++) {
        let ref = 0, mag = 0;
        for (let d = 0; d < ic; d++) {
          ref += w[d * oc + o] * x[d * seq + s];
          mag += Math.abs(w[d * oc + o] * x[d * seq + s]);
        }
        // inputs rounded to fp16 (2^-11 relative each), fp16 accumulation and output rounding
        expect(Math.abs(y[o * seq + s] - ref)).toBeLessThanOrEqual(mag * 2 ** -7 + 2 ** -11);
      }
    }
  });
});
