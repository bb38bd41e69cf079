// Decode benchmark: rustane's KV-cache decoder (fp16 and fp32 weight storage, cached and
// --no-cache) vs PyTorch CPU on the same random weights (Stories110M shape by default), plus the
// machine's memcpy bandwidth, so the decoder's weight traffic (GB/s) can be read against it.
// Each cached decoder runs --rounds generations; the table shows the median and the best.
//   node_modules/.bin/bun bench/decode/decode.ts [--model stories110m] [--threads N] [--tokens 64] [--rounds 5]
//     [--torch-dtypes float32,bfloat16]
import { parseArgs } from "node:util";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { rmSync, writeFileSync } from "node:fs";
import { loadModelConfig } from "../../src/model/config.ts";
import { paramLayout, layerPrefix, view } from "../../src/model/params.ts";
import { openGenerativeModel } from "../../src/generate/model.ts";
import { generate } from "../../src/generate/generate.ts";
import { Sampler } from "../../src/generate/sampler.ts";
import { setThreads, fillUniform } from "../../src/ffi/index.ts";

const { values: a } = parseArgs({ options: { model: { type: "string", default: "stories110m" }, threads: { type: "string" },
  tokens: { type: "string", default: "64" }, prompt: { type: "string", default: "16" }, uncached: { type: "string", default: "16" },
  rounds: { type: "string", default: "5" }, "torch-dtypes": { type: "string", default: "float32" } } });
const threads = Number(a.threads ?? availableParallelism());
setThreads(threads);
const c = loadModelConfig(a.model!), layout = paramLayout(c);
const newTokens = Number(a.tokens), promptLen = Number(a.prompt), uncachedTokens = Number(a.uncached), rounds = Number(a.rounds);

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
const greedy = () => new Sampler({ temperature: 0, topK: 0, topP: 1, seed: 0 });
const tps = (r: { tokens: number[]; decodeMs: number }) => (r.tokens.length - 1) / (r.decodeMs / 1000);
const median = (x: number[]) => [...x].sort((p, q) => p - q)[x.length >> 1];
const rows: string[] = [];
const row = (name: string, speeds: number[], bytes: number, prefill: number) =>
  rows.push(`| ${name} | ${median(speeds).toFixed(1)} | ${Math.max(...speeds).toFixed(1)} | ${(median(speeds) * bytes / 1e9).toFixed(1)} | ${prefill.toFixed(1)} |`);
const results: Record<string, { speeds: number[]; tokens: number[] }> = {};
for (const weights of ["fp16", "fp32"] as const) {
  using model = openGenerativeModel({ config: c, layout, params }, { weights });
  generate(model, prompt, { maxTokens: 4, sampler: greedy(), cache: true, eos: null });   // warm-up
  const speeds: number[] = [];
  let r = generate(model, prompt, { maxTokens: newTokens, sampler: greedy(), cache: true, eos: null });
  for (let i = 0; i < rounds; i++) {
    r = generate(model, prompt, { maxTokens: newTokens, sampler: greedy(), cache: true, eos: null });
    speeds.push(tps(r));
  }
  results[weights] = { speeds, tokens: r.tokens };
  const bytes = model.weightBytesPerToken();
  row(`rustane ${weights} weights, KV cache (${newTokens} tokens)`, speeds, bytes, r.prefillMs);
  if (weights === "fp16") {
    const u = generate(model, prompt, { maxTokens: uncachedTokens, sampler: greedy(), cache: false, eos: null });
    row(`rustane ${weights} weights, --no-cache (${uncachedTokens} tokens)`, [tps(u)], bytes, u.prefillMs);
  }
}

const fp32Bytes = 4 * (layout.total - c.vocab_size * c.dim + c.dim) + (c.tied_embeddings ? 4 * c.vocab_size * c.dim : 0);
const torchRuns: Array<{ dtype: string; tokens_per_s: number; rounds: number[]; prefill_ms: number; tokens: number[]; torch: string }> = [];
for (const dtype of a["torch-dtypes"]!.split(",")) {
  const py = Bun.spawnSync(["python3", join(import.meta.dir, "pytorch_decode.py"), bin, Array.from(prompt).join(","), String(newTokens), String(threads),
    String(rounds), dtype]);
  if (py.exitCode !== 0) throw new Error(`pytorch_decode.py failed: ${py.stderr.toString()}`);
  const t = JSON.parse(py.stdout.toString());
  torchRuns.push(t);
  row(`PyTorch ${t.torch} CPU ${dtype}, KV cache (${newTokens} tokens)`, t.rounds, dtype === "float32" ? fp32Bytes : fp32Bytes / 2, t.prefill_ms);
}
rmSync(bin, { force: true });
const same = (x: number[], y: number[]) => { let n = 0; while (n < newTokens && x[n] === y[n]) n++; return n; };

console.log(`model ${c.name} (${(layout.total / 1e6).toFixed(1)}M params, ${(fp32Bytes / 1e6).toFixed(0)} MB fp32 weights read per token), ` +
  `prompt ${promptLen} tokens, ${threads} threads, ${rounds} rounds, ${cpus()[0]?.model ?? "unknown CPU"} (${availableParallelism()} logical CPUs), ` +
  `load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
console.log(`memcpy: ${memcpyGBs.toFixed(1)} GB/s (read + write, one thread, best of 5 x 256 MB)`);
console.log("| decoder | tokens/s median | tokens/s best | weight GB/s (median) | prefill ms |\n|---|---|---|---|---|");
for (const r of rows) console.log(r);
const torch32 = torchRuns[0];
console.log(`rustane fp16 / PyTorch ${a["torch-dtypes"]!.split(",")[0]}: ${(median(results.fp16.speeds) / torch32.tokens_per_s).toFixed(2)}x median, ` +
  `${(Math.max(...results.fp16.speeds) / Math.max(...torch32.rounds)).toFixed(2)}x best; rustane fp32 / PyTorch: ${(median(results.fp32.speeds) / torch32.tokens_per_s).toFixed(2)}x median`);
console.log(`greedy tokens identical to PyTorch's for the first: fp32 ${same(results.fp32.tokens, torch32.tokens)}, fp16 ${same(results.fp16.tokens, torch32.tokens)} of ${newTokens}`);
