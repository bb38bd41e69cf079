// `rustane mil run FILE.mil --out DIR`: compile on a backend, evaluate once, write every output as .npy.
import { Command, Option } from "clipanion";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { RustaneCommand, CliError, usageError, parseChoice, parseCount } from "./base.ts";
import { readMilFile, readWeightsDir } from "./files.ts";
import { CHIP_CHOICES } from "./mil-check.ts";
import {
  chipNames, openBackend, fillUniform, fp16ToFloat32,
  type HostArray, type IoDesc, type Numerics,
} from "../ffi/index.ts";
import { readNpy, writeNpyFloat32, type NpyArray } from "../util/npy.ts";
import { formatTable, formatNumber } from "../util/table.ts";

/** min, max, mean and the count of NaN/inf values, in one pass (finite values only for min/max/mean). */
export function tensorStats(x: Float32Array): { min: number; max: number; mean: number; nonFinite: number } {
  let min = Infinity, max = -Infinity, sum = 0, finite = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    finite++;
  }
  return finite === 0 ? { min: NaN, max: NaN, mean: NaN, nonFinite: x.length } : { min, max, mean: sum / finite, nonFinite: x.length - finite };
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}

/** The host array an .npy file stages into input `io`: floats for fp16/fp32 inputs, the same integer type otherwise. */
export function npyToInput(npy: NpyArray, io: IoDesc, file: string): HostArray {
  if (npy.shape.length !== io.shape.length || npy.shape.some((d, i) => d !== io.shape[i])) {
    throw usageError(`${file}: shape ${shapeText(npy.shape)} does not match input "${io.name}" ${shapeText(io.shape)} (${io.dtype}): reshape it to exactly ${shapeText(io.shape)}`);
  }
  if (io.dtype === "fp16" || io.dtype === "fp32") {
    if (npy.dtype === "float32") return npy.data as Float32Array;
    if (npy.dtype === "float16") return fp16ToFloat32(npy.data as Uint16Array);
    return new Float32Array(npy.data as Float64Array | Int32Array | Int8Array | Uint8Array);
  }
  const same = { int32: "int32", int8: "int8", uint8: "uint8" }[io.dtype];
  if (npy.dtype !== same) throw usageError(`${file}: holds ${npy.dtype} but input "${io.name}" is ${io.dtype}: save it with dtype ${same}`);
  return npy.data as HostArray;
}

/** Parses the repeated `--input NAME=FILE.npy` options. */
function parseInputOptions(values: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of values) {
    const eq = v.indexOf("=");
    if (eq <= 0 || eq === v.length - 1) throw usageError(`--input: expected NAME=FILE.npy (got "${v}")`);
    const name = v.slice(0, eq);
    if (out.has(name)) throw usageError(`--input: "${name}" is given twice`);
    out.set(name, v.slice(eq + 1));
  }
  return out;
}

export class MilRunCommand extends RustaneCommand {
  static paths = [["mil", "run"]];
  static usage = Command.Usage({
    category: "MIL",
    description: "compile a MIL program, evaluate it once and write each output as DIR/<name>.npy (float32)",
    details: "Every program input needs a value: --input NAME=FILE.npy (exactly the input's shape; float32/float16/float64 for fp16/fp32 inputs) or --random-inputs (uniform in [-1,1), seeded; input i uses seed N+i).",
    examples: [
      ["random inputs on the cpu backend", "$0 mil run model.mil --random-inputs --backend cpu --out out/"],
      ["given inputs, fp32 reference numerics", "$0 mil run model.mil --input x=x.npy --numerics fp32 --out out/"],
    ],
  });
  file = Option.String({ name: "FILE.mil" });
  weights = Option.String("--weights", { description: "folder whose files are the blobs @model_path/weights/<relative path>" });
  inputs = Option.Array("--input", [], { description: "NAME=FILE.npy for a program input (repeatable)" });
  randomInputs = Option.Boolean("--random-inputs", false, { description: "fill inputs not given with --input from a seeded uniform [-1,1)" });
  seed = Option.String("--seed", { description: "seed of --random-inputs (default 0)" });
  numerics = Option.String("--numerics", { description: "fp16 (the ANE's, default) or fp32 (reference, cpu only)" });
  chip = Option.String("--chip", { description: `chip profile: ${CHIP_CHOICES.join("|")} (default: the backend's)` });
  backend = Option.String("--backend", "auto", { description: "cpu, ane or auto (ane when it works, else cpu)" });
  // Checked in run() rather than by clipanion, whose message for a missing option is "Command not found".
  out = Option.String("--out", { description: "folder for the output .npy files (created if needed; required)" });

  async run(): Promise<number> {
    if (!this.out) throw usageError("mil run: --out DIR is required (the folder for the output .npy files)");
    const outDir = this.out;
    const numerics = parseChoice<Numerics>("--numerics", this.numerics, ["fp16", "fp32"]) ?? "fp16";
    const backendName = parseChoice("--backend", this.backend, ["cpu", "ane", "auto"])!;
    const seed = parseCount("--seed", this.seed, 0);
    const given = parseInputOptions(this.inputs ?? []);
    const chip = parseChoice("--chip", this.chip, chipNames().length ? chipNames() : CHIP_CHOICES);
    const mil = await readMilFile(this.file);
    const weights = this.weights ? await readWeightsDir(this.weights) : undefined;

    using backend = openBackend(backendName);
    using program = backend.compile(mil, { weights, chip, numerics });
    const names = program.inputs.map((io) => io.name);
    for (const name of given.keys()) {
      if (!names.includes(name)) throw usageError(`--input ${name}: the program has no such input (its inputs: ${names.join(", ") || "none"})`);
    }
    // Read and check every input before touching the device.
    const values: HostArray[] = [];
    for (const [i, io] of program.inputs.entries()) {
      const file = given.get(io.name);
      if (file !== undefined) {
        let npy: NpyArray;
        try {
          npy = await readNpy(file);
        } catch (e) {
          throw usageError((e as Error).message);
        }
        values.push(npyToInput(npy, io, file));
      } else if (this.randomInputs) {
        if (io.dtype !== "fp16" && io.dtype !== "fp32") {
          throw usageError(`input "${io.name}" is ${io.dtype}: --random-inputs fills only fp16/fp32 inputs; give it with --input ${io.name}=FILE.npy`);
        }
        const x = new Float32Array(io.shape.reduce((a, b) => a * b, 1));
        fillUniform(x, seed + i, -1, 1);
        values.push(x);
      } else {
        throw usageError(`input "${io.name}" ${shapeText(io.shape)} has no value: give --input ${io.name}=FILE.npy or --random-inputs`);
      }
    }
    for (const io of program.outputs) {
      if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(io.name)) throw new CliError(`output "${io.name}" cannot be used as a file name`);
    }

    program.load();
    const inSurfaces = program.inputs.map((io) => backend.createSurface(io.bytes));
    const outSurfaces = program.outputs.map((io) => backend.createSurface(io.bytes));
    program.inputs.forEach((io, i) => inSurfaces[i].write(io, values[i]));
    using request = program.request(inSurfaces, outSurfaces);
    const timing = request.eval();

    try {
      mkdirSync(outDir, { recursive: true });
    } catch (e) {
      throw new CliError(`--out ${outDir}: cannot create the folder: ${(e as Error).message}`);
    }
    const rows: string[][] = [];
    for (const [i, io] of program.outputs.entries()) {
      const data = outSurfaces[i].read(io);
      const path = join(outDir, `${io.name}.npy`);
      await writeNpyFloat32(path, data, io.shape);
      const s = tensorStats(data);
      rows.push([io.name, shapeText(io.shape), io.dtype, formatNumber(s.min), formatNumber(s.max), formatNumber(s.mean), String(s.nonFinite), path]);
    }
    const o = this.context.stdout;
    o.write(formatTable(["output", "shape", "dtype", "min", "max", "mean", "nan/inf", "file"], rows));
    o.write(`backend ${backend.kind}, numerics ${numerics}${chip ? `, chip ${chip}` : ""}: eval ${timing.wallMs.toFixed(3)} ms wall` +
      (timing.hwMs === null ? "" : `, ${timing.hwMs.toFixed(3)} ms on the device`) + "\n");
    return 0;
  }
}
