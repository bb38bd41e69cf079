// src/util/npy.ts: round trips, files written by numpy, and clear errors for what it does not read.
import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeNpyFloat32, parseNpy, readNpy, writeNpyFloat32 } from "../../src/util/npy.ts";
import { NUMPY_MISSING, python } from "../ffi/helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "rustane-npy-"));

describe("npy", () => {
  test("float32 round trip through our own writer and reader", () => {
    const data = new Float32Array([1.5, -2, 0.1, 3e38, -0, 7]);
    const back = parseNpy(encodeNpyFloat32(data, [2, 3]));
    expect(back.dtype).toBe("float32");
    expect(back.shape).toEqual([2, 3]);
    expect(back.data).toEqual(data);
    // The header is padded so the data starts at a multiple of 64 bytes.
    expect((encodeNpyFloat32(data, [6]).length - data.byteLength) % 64).toBe(0);
  });

  test("errors name the file and say what to do", async () => {
    expect(() => parseNpy(new Uint8Array([1, 2, 3]), "a.npy")).toThrow(/a\.npy: not a \.npy file/);
    const good = encodeNpyFloat32(new Float32Array(6), [2, 3]);
    expect(() => parseNpy(good.subarray(0, good.length - 4), "t.npy")).toThrow(/t\.npy: truncated data/);
    await expect(readNpy(join(dir, "none.npy"))).rejects.toThrow(/no such file/);
  });

  test.skipIf(NUMPY_MISSING !== null)("reads what numpy writes: every dtype, versions 1.0 and 2.0", async () => {
    python(`
import numpy as np, sys
d = sys.argv[1]
base = np.arange(24).reshape(2, 3, 4) - 7
for t in ["float32", "float16", "float64", "int8", "uint8", "int32"]:
    a = (base * 0.5).astype(t) if t.startswith("float") else (base % 100).astype(t)
    np.save(f"{d}/{t}.npy", a)
np.lib.format.write_array(open(f"{d}/v2.npy", "wb"), (base * 0.25).astype("float32"), version=(2, 0))
np.save(f"{d}/fortran.npy", np.asfortranarray((base * 1.0).astype("float32")))
np.save(f"{d}/big.npy", (base * 1.0).astype(">f4"))
np.save(f"{d}/complex.npy", base.astype("complex64"))
np.save(f"{d}/scalar.npy", np.float32(3.5))
`, [dir]);
    const expectAll = (got: ArrayLike<number>, f: (i: number) => number) => {
      expect(Array.from(got)).toEqual(Array.from({ length: 24 }, (_, i) => f(i)));
    };
    for (const t of ["float32", "float64"]) {
      const a = await readNpy(join(dir, `${t}.npy`));
      expect(a.dtype).toBe(t as "float32");
      expect(a.shape).toEqual([2, 3, 4]);
      expectAll(a.data, (i) => (i - 7) * 0.5);
    }
    const h = await readNpy(join(dir, "float16.npy"));
    expect(h.dtype).toBe("float16");
    expect(h.data[9]).toBe(0x3c00); // element 9 is (9 - 7) * 0.5 = 1.0, fp16 bits 0x3c00
    for (const t of ["int8", "int32"]) expectAll((await readNpy(join(dir, `${t}.npy`))).data, (i) => (((i - 7) % 100) + 100) % 100);
    expectAll((await readNpy(join(dir, "uint8.npy"))).data, (i) => (((i - 7) % 100) + 100) % 100);
    const v2 = await readNpy(join(dir, "v2.npy"));
    expectAll(v2.data, (i) => (i - 7) * 0.25);
    const sc = await readNpy(join(dir, "scalar.npy"));
    expect(sc.shape).toEqual([]);
    expect([...sc.data]).toEqual([3.5]);
    await expect(readNpy(join(dir, "fortran.npy"))).rejects.toThrow(/Fortran-order arrays are not supported: save with np\.ascontiguousarray/);
    await expect(readNpy(join(dir, "big.npy"))).rejects.toThrow(/'>f4' is not supported: big-endian/);
    await expect(readNpy(join(dir, "complex.npy"))).rejects.toThrow(/'<c8' is not supported/);
  });

  test.skipIf(NUMPY_MISSING !== null)("numpy reads what we write", async () => {
    const data = Float32Array.from({ length: 12 }, (_, i) => i * 0.25 - 1);
    await writeNpyFloat32(join(dir, "ours.npy"), data, [1, 3, 1, 4]);
    const out = python(`
import numpy as np, sys
a = np.load(sys.argv[1])
assert a.dtype == np.float32 and a.shape == (1, 3, 1, 4), (a.dtype, a.shape)
assert np.array_equal(a.ravel(), np.arange(12, dtype=np.float32) * 0.25 - 1)
print("ok")
`, [join(dir, "ours.npy")]);
    expect(out.trim()).toBe("ok");
  });
});
