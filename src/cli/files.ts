// File inputs shared by the mil commands: the MIL text and a weights folder.
import { readdirSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { usageError } from "./base.ts";

/** The MIL text of FILE; a missing or unreadable file is a usage error (exit 2). */
export async function readMilFile(path: string): Promise<string> {
  const file = Bun.file(path);
  if (!(await file.exists())) throw usageError(`${path}: no such file (give the path of a .mil file)`);
  try {
    return await file.text();
  } catch (e) {
    throw usageError(`${path}: cannot read: ${(e as Error).message}`);
  }
}

/** Every file under DIR as a weight blob named "@model_path/weights/<relative path>". */
export async function readWeightsDir(dir: string): Promise<Map<string, Uint8Array>> {
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw usageError(`--weights ${dir}: no such folder`);
  }
  if (!st.isDirectory()) throw usageError(`--weights ${dir}: not a folder (give the folder that holds the weight files)`);
  const weights = new Map<string, Uint8Array>();
  const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).sort();
  for (const rel of files) {
    const path = join(dir, rel);
    if (!statSync(path).isFile()) continue;
    const name = "@model_path/weights/" + relative(dir, path).split(sep).join("/");
    weights.set(name, new Uint8Array(await Bun.file(path).arrayBuffer()));
  }
  return weights;
}
