// Decode benchmark: rustane's KV-cache decoder (cached and --no-cache) vs PyTorch CPU on the same
// random weights (Stories110M shape by default), plus the machine's memcpy bandwidth, so the
// decoder's weight traffic (GB/s) can be read against it.
//   node_modules/.bin/bun bench/decode/decode.ts [--model stories110m] [--threads N] [--tokens 64]
import { parseArgs } from "node:util";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { rmSync, writeFileSync } from "node:fs";
import { loadModelConfig } from "../../src/model/config.ts";
import { paramLayout, layerPrefix, view } from "../../src/model/params.ts";
import { openGenerativeModel } from "../../src/generate/model.ts";
import { generate } from "../../src/generate/generate.ts";
import { Sampler } from "../../src/generate/sampler.ts";
import { setThreads, fillUniform } from "../../src/ffi/index.ts";

const { values: a } = parseArgs({ options: { model: { type: "string", default: "stories110m" }, threads: { type: "string" },
  tokens: { type: "string", default: "64" }, prompt: { type: "string", default: "16" }, uncached: { type: "string", default: "16" } } });
const threads = Number(a.threads ?? availableParallelism());
setThreads(threads);
const c = loadModelConfig(a.model!), layout = paramLayout(c);
const newTokens = Number(a.tokens), promptLen = Number(a.prompt), uncachedTokens = Number(a.uncached);

// Random weights: matrices uniform in +-1/sqrt(in), norms 1 (a fixed seed: every run the same).
const params = new Float32Array(layout.total);
for (const t of layout.tensors) {
  const v = view(layout, params, t.name);
  if (t.init === "ones") v.fill(1);
  else fillUniform(v, 1000 + t.offset, -1 / Math.sqrt(t.shape[1]), 1 / Math.sqrt(t.shape[1]));
}

// The same weights as a llama2.c file for PyTorch.
const bin = join(tmpdir(), `rustane-decode-bench-${process.pid}.bin`);
{
  const hd = c.head_dim, blocks: Float32Array[] = [];
  const layered = (n: string) => { for (let l = 0; l < c.n_layers; l++) blocks.push(view(layout, params, layerPrefix(l) + n)); };
  blocks.push(view(layout, params, "model.embed_tokens.weight"));
  for (const n of ["input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
    "post_attention_layernorm", "mlp.gate_proj", "mlp.down_proj", "mlp.up_proj"]) layered(n + ".weight");
  blocks.push(view(layout, params, "model.norm.weight"), new Float32Array(c.max_seq_len * hd));
  if (!c.tied_embeddings) blocks.push(view(layout, params, "lm_head.weight"));
  const header = Int32Array.of(c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.tied_embeddings ? c.vocab_size : -c.vocab_size, c.max_seq_len);
  writeFileSync(bin, Buffer.concat([new Uint8Array(header.buffer), ...blocks.map((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength))]));
}

// memcpy bandwidth: best of 5 copies of 256 MB (GB/s counts bytes read + written).
const big = new Float32Array(64 << 20), dst = new Float32Array(64 << 20);
big.fill(1);
let best = Infinity;
for (let i = 0; i < 5; i++) { const t0 = performance.now(); dst.set(big); best = Math.min(best, performance.now() - t0); }
const memcpyGBs = 2 * big.byteLength / (best / 1000) / 1e9;

const prompt = Int32Array.from({ length: promptLen }, (_, i) => (i * 37 + 11) % c.vocab_size);
using model = openGenerativeModel({ config: c, layout, params });
const greedy = () => new Sampler({ temperature: 0, topK: 0, topP: 1, seed: 0 });
generate(model, prompt, { maxTokens: 4, sampler: greedy(), cache: true, eos: null });   // warm-up
const cached = generate(model, prompt, { maxTokens: newTokens, sampler: greedy(), cache: true, eos: null });
const uncached = generate(model, prompt, { maxTokens: uncachedTokens, sampler: greedy(), cache: false, eos: null });
const tps = (r: { tokens: number[]; decodeMs: number }) => (r.tokens.length - 1) / (r.decodeMs / 1000);
const bytes = model.weightBytesPerToken();

const py = Bun.spawnSync(["python3", join(import.meta.dir, "pytorch_decode.py"), bin, Array.from(prompt).join(","), String(newTokens), String(threads)]);
rmSync(bin, { force: true });
if (py.exitCode !== 0) throw new Error(`pytorch_decode.py failed: ${py.stderr.toString()}`);
const torch = JSON.parse(py.stdout.toString()) as { tokens_per_s: number; prefill_ms: number; tokens: number[]; torch: string };
let same = 0;
while (same < newTokens && torch.tokens[same] === cached.tokens[same]) same++;

const row = (name: string, t: number, prefill: number) =>
  `| ${name} | ${t.toFixed(1)} | ${(t * bytes / 1e9).toFixed(1)} | ${prefill.toFixed(1)} |`;
console.log(`model ${c.name} (${(layout.total / 1e6).toFixed(1)}M params, ${(bytes / 1e6).toFixed(0)} MB fp32 weights read per token), ` +
  `prompt ${promptLen} tokens, ${threads} threads, ${cpus()[0]?.model ?? "unknown CPU"} (${availableParallelism()} logical CPUs)`);
console.log(`memcpy: ${memcpyGBs.toFixed(1)} GB/s (read + write, one thread, best of 5 x 256 MB)`);
console.log("| decoder | tokens/s | weight GB/s | prefill ms |\n|---|---|---|---|");
console.log(row(`rustane, KV cache (${newTokens} tokens)`, tps(cached), cached.prefillMs));
console.log(row(`rustane, --no-cache (${uncachedTokens} tokens)`, tps(uncached), uncached.prefillMs));
console.log(row(`PyTorch ${torch.torch} CPU, KV cache (${newTokens} tokens)`, torch.tokens_per_s, torch.prefill_ms));
console.log(`rustane cached / PyTorch: ${(tps(cached) / torch.tokens_per_s).toFixed(2)}x; greedy tokens identical for the first ${same} of ${newTokens}`);
