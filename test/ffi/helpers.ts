// Independent references and fixtures for the ffi and cli tests (nothing here calls libane).

/** Nearest fp16 value of x (float64 math): round to nearest even, overflow to +-inf, and results below
 *  the smallest normal (2^-14) flushed to zero, as the ANE does. */
export function roundFp16(x: number): number {
  if (Number.isNaN(x) || x === 0 || !Number.isFinite(x)) return x;
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  const ulp = e < -14 ? 2 ** -24 : 2 ** (e - 10); // 10 fraction bits; subnormal spacing below 2^-14
  const q = a / ulp;
  const f = Math.floor(q);
  const rem = q - f;
  const r = rem > 0.5 || (rem === 0.5 && f % 2 === 1) ? f + 1 : f;
  let v = r * ulp;
  if (v >= 65536) v = Infinity; // 65504 is the largest fp16; ties at 65520 round up to 2^16 = inf
  if (v < 2 ** -14) v = 0;
  return Math.sign(x) * v;
}

/** A MIL program (ios18 dialect) with the given function parameters, body statements and outputs. */
export function milProgram(params: string[], body: string[], outputs: string[]): string {
  return [
    "program(1.3)",
    '[buildInfo = dict<string, string>({{"coremlc-component-MIL", "3510.2.1"}, {"coremlc-version", "3505.4.1"}})]',
    "{",
    `    func main<ios18>(${params.join(", ")}) {`,
    ...body.map((s) => `        ${s}`),
    `    } -> (${outputs.join(", ")});`,
    "}",
    "",
  ].join("\n");
}

/** out = (x + y) * 2 on [1,2,1,S] fp16 tensors. */
export function addMulMil(S: number): string {
  return milProgram(
    [`tensor<fp16, [1, 2, 1, ${S}]> x`, `tensor<fp16, [1, 2, 1, ${S}]> y`],
    [
      `tensor<fp16, [1, 2, 1, ${S}]> s = add(x=x, y=y)[name=string("s")];`,
      'fp16 two = const()[name=string("two"), val=fp16(2.0)];',
      `tensor<fp16, [1, 2, 1, ${S}]> out = mul(x=s, y=two)[name=string("out")];`,
    ],
    ["out"],
  );
}

/** Width 3: small enough to compute by hand; breaks the real chips' I/O rules, so it runs with chip "none". */
export const ADD_MUL_MIL = addMulMil(3);
/** Width 64: passes the m1..m5 I/O width and row-alignment rules. */
export const ADD_MUL_MIL_64 = addMulMil(64);

/** out = x * w with w a [1,2,1,1] fp16 weight read from the blob "@model_path/weights/w.bin". */
export const WEIGHT_MIL = milProgram(
  ["tensor<fp16, [1, 2, 1, 3]> x"],
  [
    'tensor<fp16, [1, 2, 1, 1]> w = const()[name=string("w"), val=tensor<fp16, [1, 2, 1, 1]>(BLOBFILE(path=string("@model_path/weights/w.bin"), offset=uint64(64)))];',
    'tensor<fp16, [1, 2, 1, 3]> out = mul(x=x, y=w)[name=string("out")];',
  ],
  ["out"],
);

/** fp16 bit pattern of a value that is exactly representable in fp16 (normal or zero). */
export function fp16Bits(v: number): number {
  if (v === 0) return 0;
  const sign = v < 0 ? 0x8000 : 0;
  const a = Math.abs(v);
  const e = Math.floor(Math.log2(a));
  const mant = Math.round((a / 2 ** e - 1) * 1024);
  return sign | ((e + 15) << 10) | mant;
}

/** A one-weight blob file in the layout of ane-maderix.md §3.4: 64-byte file header, chunk header at 64
 *  (magic 0xDEADBEEF, payload size, payload offset 128), fp16 payload at 128. */
export function fp16Blob(values: number[]): Uint8Array {
  const payload = values.length * 2;
  const out = new Uint8Array(128 + payload);
  const v = new DataView(out.buffer);
  out[0] = 1;
  out[4] = 2;
  v.setUint32(64, 0xdeadbeef, true);
  out[68] = 1;
  v.setUint32(72, payload, true);
  v.setUint32(80, 128, true);
  values.forEach((x, i) => v.setUint16(128 + 2 * i, fp16Bits(x), true));
  return out;
}

/** numpy is needed to write fixtures and read back outputs; tests that need it skip with this reason. */
export const NUMPY_MISSING: string | null = (() => {
  const p = Bun.spawnSync(["python3", "-c", "import numpy"], { stdout: "ignore", stderr: "ignore" });
  return p.exitCode === 0 ? null : "python3 with numpy is not installed";
})();

/** Runs python3 code; throws with its stderr on failure; returns stdout. */
export function python(code: string, args: string[] = []): string {
  const p = Bun.spawnSync(["python3", "-c", code, ...args], { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`python3 failed: ${p.stderr.toString()}`);
  return p.stdout.toString();
}
