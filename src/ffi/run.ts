// One-shot evaluation for tools and tests: compile, load, stage inputs by name, eval once, read back.
import type { Backend } from "./backend.ts";
import { type EvalTiming, type HostArray, type Numerics, type WeightMap, product } from "./types.ts";

export function runProgram(
  backend: Backend,
  mil: string,
  inputs: Record<string, HostArray>,
  opts: { weights?: WeightMap; chip?: string; numerics?: Numerics } = {},
): { outputs: Record<string, Float32Array>; shapes: Record<string, number[]>; timing: EvalTiming } {
  using program = backend.compile(mil, opts);
  const wanted = program.inputs.map((io) => io.name);
  const missing = wanted.filter((n) => !(n in inputs));
  const extra = Object.keys(inputs).filter((n) => !wanted.includes(n));
  if (missing.length || extra.length) {
    const parts = [];
    if (missing.length) parts.push(`missing ${missing.map((n) => `"${n}"`).join(", ")}`);
    if (extra.length) parts.push(`unknown ${extra.map((n) => `"${n}"`).join(", ")}`);
    throw new Error(`runProgram: inputs do not match the program (${parts.join("; ")}); it takes ${wanted.map((n) => `"${n}"`).join(", ") || "no inputs"}`);
  }
  for (const io of program.inputs) {
    const n = product(io.shape);
    if (inputs[io.name].length !== n) {
      throw new Error(`runProgram: input "${io.name}" is [${io.shape.join(",")}] = ${n} elements but ${inputs[io.name].length} were given`);
    }
  }
  program.load();
  const inSurfaces = program.inputs.map((io) => backend.createSurface(io.bytes));
  const outSurfaces = program.outputs.map((io) => backend.createSurface(io.bytes));
  try {
    program.inputs.forEach((io, i) => inSurfaces[i].write(io, inputs[io.name]));
    using request = program.request(inSurfaces, outSurfaces);
    const timing = request.eval();
    const outputs: Record<string, Float32Array> = {};
    const shapes: Record<string, number[]> = {};
    program.outputs.forEach((io, i) => {
      outputs[io.name] = outSurfaces[i].read(io);
      shapes[io.name] = [...io.shape];
    });
    return { outputs, shapes, timing };
  } finally {
    for (const s of [...inSurfaces, ...outSurfaces]) s.release();
  }
}
