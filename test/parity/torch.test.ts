// Parity with PyTorch: the same random weights through rustane's training pipeline (the cpu
// backend in fp32 numerics, as test/train/step.test.ts runs it) and through transformers'
// LlamaForCausalLM / Qwen3ForCausalLM (test/parity/torch_step.py) give the same logits, loss and
// one step's gradient of every parameter. The weights travel as a rustane safetensors file
// beside a Hugging Face config.json, loaded with from_pretrained: rustane's checkpoints load in
// transformers as they are.
//
// Needs python3 with torch, transformers and safetensors. Without them the tests are skipped,
// except under CI=true, where they fail.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openBackend } from "../../src/ffi/index.ts";
import { loadModelConfig, type ModelConfig } from "../../src/model/config.ts";
import { paramLayout, view, type ParamLayout } from "../../src/model/params.ts";
import { TransformerPipeline } from "../../src/train/pipeline.ts";
import { readSafetensors, writeSafetensors } from "../../src/checkpoint/safetensors.ts";
import { hfConfig } from "./hf-config.ts";
import { lcg, randomParams, relErr } from "../helpers/model.ts";

const S = 32;
const MODELS = ["tiny", "tiny-qwen3"];
const SCRIPT = join(import.meta.dir, "torch_step.py");
const PYTHON = process.env.PYTHON ?? "python3";

/** Why PyTorch cannot run here, or null when it can. */
function torchMissing(): string | null {
  try {
    const r = Bun.spawnSync([PYTHON, "-c", "import torch, transformers, safetensors"], { stderr: "pipe" });
    return r.exitCode === 0 ? null : r.stderr.toString().trim().split("\n").pop()!;
  } catch (e) {
    return `${PYTHON} cannot be run: ${(e as Error).message}`;
  }
}
const missing = torchMissing();
const CI = process.env.CI === "true";
if (missing && !CI) console.warn(`test/parity: skipped, PyTorch is not available (${missing})`);
const run = missing && !CI ? test.skip : test;

interface Case { c: ModelConfig; layout: ParamLayout; dir: string; tokens: Int32Array; targets: Int32Array; params: Float32Array }
const cases = new Map<string, Case>();
const root = mkdtempSync(join(tmpdir(), "rustane-parity-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

beforeAll(() => {
  if (missing && !CI) return;
  if (missing) throw new Error(`CI=true and PyTorch is not available (${missing}): install torch, transformers and safetensors`);
  MODELS.forEach((name, k) => {
    const c = loadModelConfig(name), layout = paramLayout(c), dir = join(root, name);
    const params = randomParams(layout, 21 + k), r = lcg(7 + k);
    const all = Array.from({ length: S + 1 }, () => Math.floor(r() * c.vocab_size));
    const tokens = Int32Array.from(all.slice(0, S)), targets = Int32Array.from(all.slice(1));
    Bun.spawnSync(["mkdir", "-p", dir]);
    writeFileSync(join(dir, "config.json"), JSON.stringify(hfConfig(c), null, 2));
    writeSafetensors(join(dir, "model.safetensors"),
      layout.tensors.map((t) => ({ name: t.name, shape: t.shape, data: view(layout, params, t.name) })), { format: "pt" });
    writeFileSync(join(dir, "step.json"), JSON.stringify({ tokens: [...tokens], targets: [...targets], interleaved_rope: c.rope!.style === "interleaved" }));
    cases.set(name, { c, layout, dir, tokens, targets, params });
  });
  const py = Bun.spawnSync([PYTHON, SCRIPT, ...MODELS.map((m) => cases.get(m)!.dir)], { stdout: "pipe", stderr: "pipe" });
  if (py.exitCode !== 0) throw new Error(`${SCRIPT} failed (exit ${py.exitCode}):\n${py.stderr.toString()}`);
}, 60_000);   // importing torch and transformers takes seconds

const backend = openBackend("cpu");
afterAll(() => backend.close());

for (const name of MODELS) {
  describe(`${name} vs PyTorch (transformers)`, () => {
    run("fp32: logits, loss and every parameter's gradient match", () => {
      const { c, layout, dir, tokens, targets, params } = cases.get(name)!;
      const torch = readSafetensors(join(dir, "torch.safetensors")).tensors;
      using pipe = new TransformerPipeline(backend, c, layout, { seq: S, numerics: "fp32", chip: "none", vocabIds: null });
      pipe.stageWeights(params);

      // Logits: loss() leaves them in the pipeline's classifier buffer, [V, S] channel-major.
      const loss = pipe.loss(params, tokens, targets);
      const logitsVS = pipe["logits"] as Float32Array, V = c.vocab_size;
      const logits = new Float32Array(S * V);            // -> PyTorch's [S, V]
      for (let v = 0; v < V; v++) for (let s = 0; s < S; s++) logits[s * V + v] = logitsVS[v * S + s];
      const torchLoss = torch.get("loss")!.data[0];
      expect(Math.abs(loss - torchLoss)).toBeLessThan(1e-5 * torchLoss);
      const eLogits = relErr(logits, torch.get("logits")!.data);
      expect(eLogits).toBeLessThan(1e-5);

      const grads = new Float32Array(layout.total);
      const loss2 = pipe.forwardBackward(params, grads, tokens, targets, 1, 1);
      expect(Math.abs(loss2 - torchLoss)).toBeLessThan(1e-5 * torchLoss);
      const worst: string[] = [];
      let maxErr = 0;
      for (const t of layout.tensors) {
        const g = torch.get("grad/" + t.name);
        if (!g) throw new Error(`PyTorch returned no gradient for ${t.name}`);
        const e = relErr(view(layout, grads, t.name), g.data);
        maxErr = Math.max(maxErr, e);
        if (e > 1e-4) worst.push(`${t.name}: relative error ${e.toExponential(2)}`);
      }
      if (worst.length) throw new Error(`gradients differ from PyTorch's:\n  ${worst.join("\n  ")}`);
      console.log(`${name}: loss ${loss.toFixed(6)} (torch ${torchLoss.toFixed(6)}), logits rel err ${eLogits.toExponential(2)}, ` +
        `worst gradient rel err ${maxErr.toExponential(2)} over ${layout.tensors.length} tensors`);
    });
  });
}
