// `rustane generate`: text from a checkpoint (rustane's safetensors or a llama2.c .bin), streamed to
// stdout as it is produced, with a summary line on stderr (prompt tokens, prefill ms, decode tokens/s).
import { Option } from "clipanion";
import { openBackend, setThreads } from "../ffi/index.ts";
import { loadTokenizer, tokenizerFor, tokenizerFromDescription, checkTokenizerFits, type Tokenizer } from "../data/tokenizer.ts";
import { loadModelForGeneration, type LoadedModel } from "../generate/load.ts";
import { openGenerativeModel } from "../generate/model.ts";
import { generate } from "../generate/generate.ts";
import { Sampler } from "../generate/sampler.ts";
import { RustaneCommand, usageError, parseChoice, parseNumber } from "./base.ts";

/** On the cpu backend, prompts this long or longer prefill on the compiled kernels (measured crossover). */
const KERNEL_PREFILL_MIN_TOKENS_CPU = 64;

function pickTokenizer(file: string | undefined, m: LoadedModel): Tokenizer {
  if (file) return loadTokenizer(file);
  if (m.tokenizer) return tokenizerFromDescription(m.tokenizer);
  if (m.config.tokenizer === "llama2c" || m.config.tokenizer === "hf-bpe")
    throw usageError(`model ${m.config.name} uses a ${m.config.tokenizer} tokenizer: pass its file with --tokenizer ` +
      `(${m.config.tokenizer === "llama2c" ? "llama2.c's tokenizer.bin" : "tokenizer.json"})`);
  return tokenizerFor(m.config.tokenizer);
}

export class GenerateCommand extends RustaneCommand {
  static paths = [["generate"]];
  static usage = RustaneCommand.Usage({
    description: "generate text from a checkpoint (rustane .safetensors or llama2.c .bin) with a KV cache",
    details: "Llama, Qwen3 and GPT models run on libane's host decoder: a forward with a KV cache on the CPU cores. By default it stores the weight matrices in fp16 (half the memory traffic per token; products and sums stay fp32); --weights fp32 uses the checkpoint's values exactly. Text streams to stdout; a summary line (prompt tokens, prefill ms, decode tokens/s) goes to stderr.",
    examples: [
      ["Continue a story with llama2.c's Stories15M", "$0 generate --checkpoint stories15M.bin --tokenizer tokenizer.bin --prompt \"Once upon a time\""],
      ["Greedy, 50 tokens, from a rustane run", "$0 generate --checkpoint runs/small/latest.safetensors --prompt \"The \" --greedy --max-tokens 50"],
      ["Python-like text from a character-level GPT run, weights exactly as trained", "$0 generate --checkpoint runs/gpt/latest.safetensors --prompt \"def \" --weights fp32"],
    ],
  });

  checkpoint = Option.String("--checkpoint", { description: "a rustane checkpoint (.safetensors) or a llama2.c checkpoint (.bin)", required: true });
  prompt = Option.String("--prompt", { description: "text to continue (default: empty, starting from BOS)" });
  maxTokens = Option.String("--max-tokens", { description: "tokens to generate at most (default 256)" });
  temperature = Option.String("--temperature", { description: "softmax temperature; 0 = greedy (default 1.0)" });
  topK = Option.String("--top-k", { description: "sample among the k most likely tokens, 0 = all (default 50)" });
  topP = Option.String("--top-p", { description: "then among the most likely tokens holding this much probability (default 1.0 = off)" });
  seed = Option.String("--seed", { description: "sampler seed (default: from the clock)" });
  greedy = Option.Boolean("--greedy", false, { description: "always take the most likely token (same as --temperature 0)" });
  noCache = Option.Boolean("--no-cache", false, { description: "recompute the whole sequence for every token (the slow reference path)" });
  backend = Option.String("--backend", { description: "where prompts run as compiled kernels: cpu, ane or auto (default auto: ane when it works here)" });
  prefill = Option.String("--prefill", { description: "kernels (the prompt through the backend's compiled forward kernels), host (the host decoder) or auto (default: kernels on the ane backend; on cpu, kernels for prompts of 64 tokens or more)" });
  numerics = Option.String("--numerics", { description: "numerics of kernel prefill: fp16 (the ANE's, default) or fp32" });
  tokenizer = Option.String("--tokenizer", { description: "tokenizer: byte, char, a llama2.c tokenizer.bin or a tokenizer.json (default: the checkpoint's)" });
  threads = Option.String("--threads", { description: "CPU threads for libane (default: all)" });
  weights = Option.String("--weights", { description: "fp16 or fp32: how the decoder stores the weight matrices (default fp16; fp32 is exact)" });

  async run(): Promise<number> {
    const backendName = parseChoice("--backend", this.backend, ["auto", "cpu", "ane"] as const) ?? "auto";
    const prefillMode = parseChoice("--prefill", this.prefill, ["auto", "kernels", "host"] as const) ?? "auto";
    const numerics = parseChoice("--numerics", this.numerics, ["fp16", "fp32"] as const) ?? "fp16";
    const weights = parseChoice("--weights", this.weights, ["fp16", "fp32"] as const) ?? "fp16";
    const maxTokens = parseNumber("--max-tokens", this.maxTokens, 256, { int: true, min: 1 });
    const temperature = this.greedy ? 0 : parseNumber("--temperature", this.temperature, 1.0, { min: 0 });
    const topK = parseNumber("--top-k", this.topK, 50, { int: true, min: 0 });
    const topP = parseNumber("--top-p", this.topP, 1.0, { min: 0 });
    if (topP <= 0) throw usageError(`--top-p: must be > 0 (got ${this.topP})`);
    if (topP > 1) throw usageError(`--top-p: must be <= 1 (got ${this.topP})`);
    const seed = parseNumber("--seed", this.seed, Date.now() % 2 ** 32, { int: true, min: 0, max: 2 ** 32 - 1 });
    if (this.threads) setThreads(parseNumber("--threads", this.threads, 0, { int: true, min: 1, max: 1024 }));

    const m = loadModelForGeneration(this.checkpoint);
    const tok = pickTokenizer(this.tokenizer, m);
    checkTokenizerFits(tok, m.config);
    const text = this.prompt ?? "";
    // llama2.c and Llama-2-style models start every sequence with BOS (run.c does).
    const withBos = tok.bos !== null && (tok.kind === "llama2c" || text === "");
    const prompt = Int32Array.from(tok.encode(text, { bos: withBos }));
    if (prompt.length === 0) throw usageError(`--prompt is empty and the ${tok.kind} tokenizer has no BOS token to start from: give a prompt`);

    // Prompts run as the compiled forward kernels: on the device (the ANE) always; on the cpu
    // backend from 64 tokens on, where its batched matmuls beat the host decoder's token-by-token
    // prefill, which wins on short prompts (BENCHMARKS.md). --no-cache keeps every recomputation
    // on the host decoder, the reference path.
    using backend = openBackend(backendName);
    if (prefillMode === "kernels" && m.config.family === "gpt") throw usageError("--prefill kernels: the gpt family prefills on the host decoder");
    const onKernels = m.config.family !== "gpt" && !this.noCache && prefillMode !== "host";
    const minTokens = prefillMode === "kernels" || backend.kind === "ane" ? 0 : KERNEL_PREFILL_MIN_TOKENS_CPU;
    using model = openGenerativeModel(m, { maxSeq: m.config.max_seq_len, weights,
      prefill: onKernels ? { backend, numerics, minTokens } : undefined });
    const ranOnKernels = onKernels && prompt.length >= minTokens;
    const out = this.context.stdout;
    const generated: number[] = [];
    let shown = 0;
    // Decode everything generated so far and print what is new; hold back a trailing U+FFFD, which
    // is a multi-byte character still missing its next bytes.
    const flush = (final: boolean) => {
      let s = tok.decode(generated);
      if (!final) while (s.endsWith("\uFFFD")) s = s.slice(0, -1);
      if (s.length > shown) { out.write(s.slice(shown)); shown = s.length; }
    };
    out.write(text);
    const r = generate(model, prompt, {
      maxTokens, sampler: new Sampler({ temperature, topK, topP, seed }), cache: !this.noCache, eos: tok.eos,
      allowed: m.vocabIds, onToken: (id) => { generated.push(id); flush(false); },
    });
    flush(true);
    out.write("\n");
    const decoded = Math.max(0, r.tokens.length - 1);
    const mb = model.weightBytesPerToken() / 1e6;
    const tps = r.decodeMs > 0 ? decoded / (r.decodeMs / 1000) : 0;
    const where = ranOnKernels ? `compiled kernels on the ${backend.kind} backend, ${numerics}` : "host decoder";
    this.context.stderr.write(`${r.promptTokens} prompt tokens, prefill ${r.prefillMs.toFixed(1)} ms (${where}); ${r.tokens.length} tokens generated, ` +
      `decode ${tps.toFixed(1)} tokens/s (${this.noCache ? "no cache" : "KV cache"}, ` +
      `${mb < 10 ? mb.toFixed(2) : mb.toFixed(0)} MB of ${weights} weights per token); stopped by ${r.stoppedBy}\n`);
    return 0;
  }
}
