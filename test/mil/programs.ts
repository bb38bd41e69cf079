// Programs shared by the libane tests and by anyone checking the builder's output by hand.
import { MilBuilder, type Dialect } from "../../src/mil/index.ts";

export function randoms(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    a[i] = seed / 2 ** 32 - 0.5;
  }
  return a;
}

/** A program touching every builder op, so the front end sees every form the builder prints. */
export function everyOp(dialect: Dialect) {
  const b = new MilBuilder({ dialect });
  const x = b.input("x", "fp16", [1, 32, 1, 64]);
  const w = b.weight("w", "fp16", [32, 32, 1, 1], randoms(32 * 32, 1));
  const wq = b.constexprAffineDequantize("wq", new Int8Array(32 * 32).fill(3), [32, 32, 1, 1], b.constFloat(0.01), b.constInt(0), 0);
  const bias = b.constTensor("fp16", [32], randoms(32, 2));
  let h = b.conv(x, w, { bias });
  h = b.add(h, b.conv(x, wq));
  h = b.sub(h, b.mul(h, b.constFloat(0.5)));
  h = b.realDiv(h, b.maximum(b.sqrt(b.relu(h)), b.constFloat(1)));
  h = b.minimum(h, b.pow(b.sigmoid(h), b.constFloat(2)));
  h = b.add(h, b.tanh(b.silu(b.gelu(h, "TANH_APPROXIMATION"))));
  h = b.clip(b.mul(h, b.rsqrt(b.add(b.reduceMean(b.mul(h, h), [1], true), b.constFloat(1e-5)))), -4, 4);
  h = b.add(h, b.log(b.add(b.exp(b.constFloat(0)), b.reduceMax(b.reduceSum(h, [1], true), [3], true))));
  const ln = b.layerNorm(h, [1], {
    gamma: b.constTensor("fp16", [32], new Float32Array(32).fill(1)),
    beta: b.constTensor("fp16", [32], new Float32Array(32)),
  });
  const heads = b.transpose(b.reshape(ln, [1, 4, 8, 64]), [0, 1, 3, 2]); // [1,4,64,8]
  const att = b.softmax(b.matmul(heads, heads, { transposeY: true }), -1); // [1,4,64,64]
  const ctx = b.reshape(b.transpose(b.matmul(att, heads), [0, 1, 3, 2]), [1, 32, 1, 64]);
  const both = b.concat([b.sliceBySize(ctx, [0, 0, 0, 0], [1, 16, 1, -1]), b.sliceByIndex(ctx, [0, 16, 0, 0], [1, 32, 1, 64])], 1);
  const q = b.quantize(both, b.constFloat(0.05), "int8");
  const dq = b.dequantize(q, b.constFloat(0.05));
  b.output(b.identity(b.cast(b.cast(dq, "fp32"), "fp16")), "y");
  return b.build();
}
