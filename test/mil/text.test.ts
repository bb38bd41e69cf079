// The emitted MIL text: required header, signature, statement and constant forms per dialect,
// named transpose consts, BLOBFILE references, unique names, no dead code, exact float literals.
import { describe, expect, test } from "bun:test";
import { MilBuilder, type Dialect } from "../../src/mil/index.ts";

const HEADER_IOS18 =
  'program(1.3)\n[buildInfo = dict<string, string>({{"coremlc-component-MIL", "3510.2.1"}, {"coremlc-version", "3505.4.1"}, ' +
  '{"coremltools-component-milinternal", ""}, {"coremltools-version", "9.0"}})]\n{\n';

/** Statements of the function body, keyed by the defined name. */
function statements(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^ {8}(?:tensor<[^>]*>|\w+) (\w+) = /.exec(line);
    if (m) {
      expect(out.has(m[1])).toBe(false); // SSA: every name defined once
      out.set(m[1], line.trim());
    }
  }
  return out;
}

function attentionLike(dialect: Dialect) {
  const b = new MilBuilder({ dialect });
  const q = b.input("q", "fp16", [1, 2, 32, 16]);
  const k = b.input("k", "fp16", [1, 2, 32, 16]);
  const scores = b.matmul(q, k, { transposeY: true }); // [1,2,32,32]
  const scaled = b.mul(scores, b.constFloat(0.25));
  const p = b.softmax(scaled, -1);
  b.exp(p); // dead: never reaches an output
  b.constFloat(7); // dead constant
  b.output(p, "probs");
  return b.build();
}

describe("ios18 dialect", () => {
  const { text } = attentionLike("ios18");
  const stmts = statements(text);

  test("header, signature and closing lines", () => {
    expect(text.startsWith(HEADER_IOS18)).toBe(true);
    expect(text).toContain("    func main<ios18>(tensor<fp16, [1, 2, 32, 16]> q, tensor<fp16, [1, 2, 32, 16]> k) {\n");
    expect(text.endsWith("    } -> (probs);\n}\n")).toBe(true);
  });

  test("transpose flags are named bool consts fed to matmul", () => {
    const mm = [...stmts.values()].find((s) => s.includes("= matmul("))!;
    expect(mm).toMatch(/^tensor<fp16, \[1, 2, 32, 32\]> \w+ = matmul\(/);
    const tx = /transpose_x = (\w+)/.exec(mm)![1];
    const ty = /transpose_y = (\w+)/.exec(mm)![1];
    expect(stmts.get(tx)).toBe(`bool ${tx} = const()[name = string("${tx}"), val = bool(false)];`);
    expect(stmts.get(ty)).toBe(`bool ${ty} = const()[name = string("${ty}"), val = bool(true)];`);
    expect(mm).toMatch(/x = q, y = k\)\[name = string\("\w+"\)\];$/);
  });

  test("scalar consts use the compact form, axis is an int32 const", () => {
    const mul = [...stmts.values()].find((s) => s.includes("= mul("))!;
    const c = /y = (\w+)/.exec(mul)![1];
    expect(stmts.get(c)).toBe(`fp16 ${c} = const()[name = string("${c}"), val = fp16(0.25)];`);
    const sm = stmts.get("probs")!;
    expect(sm).toMatch(/^tensor<fp16, \[1, 2, 32, 32\]> probs = softmax\(axis = (\w+), x = \w+\)\[name = string\("probs"\)\];$/);
    const axis = /axis = (\w+)/.exec(sm)![1];
    expect(stmts.get(axis)).toBe(`int32 ${axis} = const()[name = string("${axis}"), val = int32(3)];`);
  });

  test("dead code is not emitted", () => {
    expect(text).not.toContain("exp(");
    expect(text).not.toContain("fp16(7.0)");
    // 4 consts (tx, ty, scale, axis) + matmul, mul, softmax
    expect(stmts.size).toBe(7);
  });
});

describe("ios16 dialect", () => {
  const { text } = attentionLike("ios16");
  const stmts = statements(text);

  test("program(1.0) header and ios16 signature", () => {
    expect(text.startsWith("program(1.0)\n[buildInfo = dict<tensor<string, []>, tensor<string, []>>(")).toBe(true);
    expect(text).toContain("    func main<ios16>(tensor<fp16, [1, 2, 32, 16]> q, tensor<fp16, [1, 2, 32, 16]> k) {\n");
  });

  test("scalars are rank-0 tensors, names are tensor<string, []>", () => {
    expect(text).not.toMatch(/ = (fp16|bool|int32|string)\(/);
    expect(text).not.toMatch(/^ {8}(bool|fp16|int32|string) /m);
    const mm = [...stmts.values()].find((s) => s.includes("= matmul("))!;
    const ty = /transpose_y = (\w+)/.exec(mm)![1];
    expect(stmts.get(ty)).toBe(`tensor<bool, []> ${ty} = const()[name = tensor<string, []>("${ty}"), val = tensor<bool, []>(true)];`);
    const mul = [...stmts.values()].find((s) => s.includes("= mul("))!;
    const c = /y = (\w+)/.exec(mul)![1];
    expect(stmts.get(c)).toContain("val = tensor<fp16, []>(0.25)];");
    expect(stmts.get("probs")).toContain('[name = tensor<string, []>("probs")];');
  });

  test("BLOBFILE uses verbose path and uint64 offset", () => {
    const b = new MilBuilder({ dialect: "ios16" });
    const x = b.input("x", "fp16", [1, 4, 1, 8]);
    const w = b.weight("w1", "fp16", [2, 4, 1, 1], new Float32Array(8));
    b.output(b.conv(x, w), "y");
    const { text: t } = b.build();
    expect(t).toContain(
      'tensor<fp16, [2, 4, 1, 1]> w1 = const()[name = tensor<string, []>("w1"), val = tensor<fp16, [2, 4, 1, 1]>(' +
        'BLOBFILE(path = tensor<string, []>("@model_path/weights/w1.bin"), offset = tensor<uint64, []>(64)))];',
    );
    expect(t).toContain('val = tensor<string, []>("valid")');
  });
});

describe("both dialects", () => {
  test("BLOBFILE form, weight map keys, offsets in a shared file", () => {
    const b = new MilBuilder();
    const x = b.input("x", "fp16", [1, 4, 1, 8]);
    const wa = b.weight("wa", "fp16", [4, 4, 1, 1], new Float32Array(16), { file: "shared.bin" });
    const wb = b.weight("wb", "fp16", [4, 4, 1, 1], new Float32Array(16), { file: "shared.bin" });
    const wc = b.weight("wc", "fp32", [4], new Float32Array(4));
    b.weight("unused", "fp16", [4], new Float32Array(4)); // dead: no blob file for it
    b.output(b.add(b.conv(b.conv(x, wa), wb), b.reshape(b.cast(wc, "fp16"), [1, 4, 1, 1])), "y");
    const { text, weights } = b.build();
    expect([...weights.keys()].sort()).toEqual(["@model_path/weights/shared.bin", "@model_path/weights/wc.bin"]);
    // 16 fp16 = 32 payload bytes: wa header at 64, payload 128..160, wb header at the next 64-multiple, 192
    expect(text).toContain('val = tensor<fp16, [4, 4, 1, 1]>(BLOBFILE(path = string("@model_path/weights/shared.bin"), offset = uint64(64)))];');
    expect(text).toContain('val = tensor<fp16, [4, 4, 1, 1]>(BLOBFILE(path = string("@model_path/weights/shared.bin"), offset = uint64(192)))];');
    expect(text).toContain('tensor<fp32, [4]> wc = const()[name = string("wc"), val = tensor<fp32, [4]>(BLOBFILE(path = string("@model_path/weights/wc.bin"), offset = uint64(64)))];');
    expect(text).not.toContain("unused");
  });

  test("float literals print the exact rounded value", () => {
    for (const dialect of ["ios18", "ios16"] as const) {
      const b = new MilBuilder({ dialect });
      const x = b.input("x", "fp32", [3]);
      const t = b.constTensor("fp32", [3], new Float32Array([0.1, -0, 1]));
      const h = b.constFloat(0.1); // fp16(0.1) = 0.0999755859375 exactly
      b.output(b.mul(b.mul(x, t), b.cast(h, "fp32")));
      const { text } = b.build();
      const lit = /val = tensor<fp32, \[3\]>\(\[([^\]]*)\]\)/.exec(text)![1].split(", ");
      expect(lit.map(Number)).toEqual([Math.fround(0.1), -0, 1]);
      expect(lit[1]).toBe("-0.0");
      expect(lit[2]).toBe("1.0"); // floats always carry a '.' or an exponent
      expect(text).toContain(dialect === "ios18" ? "fp16(0.0999755859375)" : "tensor<fp16, []>(0.0999755859375)");
    }
  });

  test("output names: rename, identity for inputs, duplicate refused", () => {
    const b = new MilBuilder();
    const x = b.input("x", "fp16", [1, 4, 1, 8]);
    const r = b.relu(x);
    b.output(r, "a_out");
    expect(r.name).toBe("a_out");
    b.output(x, "b_out"); // an input cannot be renamed: identity carries the name
    expect(() => b.output(r)).toThrow(/already an output/);
    expect(() => b.output(x, "x")).not.toThrow();
    const { text } = b.build();
    expect(text).toContain('tensor<fp16, [1, 4, 1, 8]> a_out = relu(x = x)[name = string("a_out")];');
    expect(text).toContain('tensor<fp16, [1, 4, 1, 8]> b_out = identity(x = x)[name = string("b_out")];');
    expect(text).toContain("} -> (a_out, b_out, x);");
  });

  test("build without outputs is an error", () => {
    const b = new MilBuilder();
    b.input("x", "fp16", [1, 4]);
    expect(() => b.build()).toThrow(/no outputs/);
  });

  test("conv emits all five operands as consts and bias as a following add", () => {
    const b = new MilBuilder();
    const x = b.input("x", "fp16", [1, 4, 1, 8]);
    const w = b.weight("w", "fp16", [2, 4, 1, 1], new Float32Array(8));
    b.output(b.conv(x, w, { bias: b.constTensor("fp16", [2], new Float32Array([1, 2])) }), "y");
    const stmts = statements(b.build().text);
    const conv = [...stmts.values()].find((s) => s.includes("= conv("))!;
    expect(conv).toMatch(/conv\(dilations = \w+, groups = \w+, pad = \w+, pad_type = \w+, strides = \w+, weight = w, x = x\)/);
    expect(conv).not.toContain("bias");
    expect(stmts.get("y")).toMatch(/= add\(x = conv_\d+, y = reshape_\d+\)/);
  });

  test("constexpr_affine_dequantize inlines its attributes", () => {
    const b = new MilBuilder();
    const x = b.input("x", "fp16", [1, 4, 1, 8]);
    const w = b.constexprAffineDequantize("wq", new Int8Array(8), [2, 4, 1, 1], b.constFloat(0.5), b.constInt(0), 0);
    b.output(b.conv(x, w), "y");
    const { text, weights } = b.build();
    expect(text).toContain(
      'tensor<fp16, [2, 4, 1, 1]> wq = constexpr_affine_dequantize()[axis = int32(0), name = string("wq"), ' +
        'quantized_data = tensor<int8, [2, 4, 1, 1]>(BLOBFILE(path = string("@model_path/weights/wq.bin"), offset = uint64(64))), ' +
        "scale = fp16(0.5), zero_point = int8(0)];",
    );
    expect(weights.has("@model_path/weights/wq.bin")).toBe(true);
    // the scale/zero-point consts are inlined, not emitted as statements
    expect(text).not.toMatch(/= const\(\)\[name = string\("c_\d+"\), val = fp16\(0\.5\)/);
  });
});
