/**
 * Model configurations: models/*.json (built in) or any JSON file, validated with valibot so a
 * bad file gets one message per broken field ("n_kv_heads: must divide n_heads (12 % 5 != 0)").
 */
import * as v from "valibot";
import { existsSync, readFileSync } from "node:fs";
import stories15m from "../../models/stories15m.json";
import stories42m from "../../models/stories42m.json";
import stories110m from "../../models/stories110m.json";
import qwen3_06b from "../../models/qwen3-0.6b.json";
import tiny from "../../models/tiny.json";
import tinyQwen3 from "../../models/tiny-qwen3.json";
import small from "../../models/small.json";
import gptChar25m from "../../models/gpt-char-25m.json";
import tinyGpt from "../../models/tiny-gpt.json";

const PositiveInt = v.pipe(v.number(), v.integer("must be an integer"), v.minValue(1, "must be >= 1"));

export const ModelConfigSchema = v.pipe(
  v.object({
    name: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9._-]*$/, "must be lowercase letters, digits, '.', '_' or '-'")),
    description: v.optional(v.string(), ""),
    family: v.picklist(["llama", "qwen3", "gpt"], "must be one of llama, qwen3, gpt"),
    dim: PositiveInt,
    n_layers: PositiveInt,
    n_heads: PositiveInt,
    n_kv_heads: PositiveInt,
    head_dim: v.pipe(PositiveInt, v.check((n) => n % 2 === 0, "must be even (rotary pairs)")),
    hidden_dim: PositiveInt,
    vocab_size: v.pipe(PositiveInt, v.maxValue(2 ** 31 - 1, "must fit in int32")),
    max_seq_len: PositiveInt,
    norm_eps: v.pipe(v.number(), v.minValue(0, "must be >= 0"), v.maxValue(0.1, "must be <= 0.1")),
    rope: v.nullable(v.object({
      theta: v.pipe(v.number(), v.minValue(2, "must be >= 2")),
      style: v.picklist(["interleaved", "rotate_half"], "must be interleaved or rotate_half"),
    })),
    qk_norm: v.boolean(),
    tied_embeddings: v.boolean(),
    tokenizer: v.picklist(["byte", "char", "llama2c", "hf-bpe"], "must be one of byte, char, llama2c, hf-bpe"),
    // GPT family (optional; the defaults describe llama/qwen3): learned positions, biases on
    // every linear and norm, GELU (tanh form) MLP, LayerNorm.
    positional: v.optional(v.picklist(["rope", "learned"], "must be rope or learned"), "rope"),
    bias: v.optional(v.boolean(), false),
    activation: v.optional(v.picklist(["swiglu", "gelu_tanh"], "must be swiglu or gelu_tanh"), "swiglu"),
    norm: v.optional(v.picklist(["rmsnorm", "layernorm"], "must be rmsnorm or layernorm"), "rmsnorm"),
    // What `rustane train` reads when no --data is given: the corpus built into the executable, or
    // the Python standard library of this machine (the seed-001 character-level Python model).
    // The sequence length `rustane train` uses when no --seq is given (default min(256, max_seq_len)).
    train_seq: v.optional(PositiveInt),
    default_data: v.optional(v.picklist(["builtin", "python-stdlib"], "must be builtin or python-stdlib"), "builtin"),
  }),
  v.forward(v.check((c) => c.n_heads % c.n_kv_heads === 0, "must divide n_heads"), ["n_kv_heads"]),
  v.forward(v.check((c) => c.train_seq === undefined || c.train_seq <= c.max_seq_len, "must be <= max_seq_len"), ["train_seq"]),
  v.forward(v.check((c) => c.family === "gpt" || c.rope !== null, "llama and qwen3 models need rotary embeddings"), ["rope"]),
  v.forward(v.check((c) => c.family !== "qwen3" || c.qk_norm, "qwen3 models use q/k RMSNorm"), ["qk_norm"]),
  v.forward(v.check((c) => (c.family === "gpt") === (c.positional === "learned" && c.rope === null),
    "gpt models (only) use learned positional embeddings and rope null"), ["positional"]),
  v.forward(v.check((c) => (c.family === "gpt") === (c.norm === "layernorm" && c.activation === "gelu_tanh" && c.bias),
    "gpt models (only) use layernorm, gelu_tanh and bias true"), ["norm"]),
  v.forward(v.check((c) => c.family !== "gpt" || (c.n_kv_heads === c.n_heads && c.n_heads * c.head_dim === c.dim && !c.qk_norm),
    "gpt models use plain multi-head attention: n_kv_heads = n_heads, n_heads * head_dim = dim, no q/k norm"), ["n_heads"]),
);

export type ModelConfig = v.InferOutput<typeof ModelConfigSchema>;

const BUILT_IN: Record<string, unknown> = {
  small, stories15m, stories42m, stories110m, "qwen3-0.6b": qwen3_06b, tiny, "tiny-qwen3": tinyQwen3,
  "gpt-char-25m": gptChar25m, "tiny-gpt": tinyGpt,
};

export function builtInModelNames(): string[] {
  return Object.keys(BUILT_IN);
}

/** Validate a parsed JSON object; throws an Error listing every broken field. */
export function parseModelConfig(raw: unknown, source: string): ModelConfig {
  const r = v.safeParse(ModelConfigSchema, raw);
  if (r.success) return r.output;
  const lines = r.issues.map((i) => `  ${v.getDotPath(i) ?? "(config)"}: ${i.message}`);
  throw new Error(`invalid model config ${source}:\n${lines.join("\n")}`);
}

/** `--model` takes a built-in name or a path to a JSON file. */
export function loadModelConfig(nameOrPath: string): ModelConfig {
  if (nameOrPath in BUILT_IN) return parseModelConfig(BUILT_IN[nameOrPath], `'${nameOrPath}'`);
  if (nameOrPath.endsWith(".json") || nameOrPath.includes("/")) {
    if (!existsSync(nameOrPath)) throw new Error(`model config file ${nameOrPath} does not exist`);
    let raw: unknown;
    try { raw = JSON.parse(readFileSync(nameOrPath, "utf8")); }
    catch (e) { throw new Error(`model config ${nameOrPath} is not valid JSON: ${(e as Error).message}`); }
    return parseModelConfig(raw, nameOrPath);
  }
  throw new Error(`unknown model '${nameOrPath}': use one of ${builtInModelNames().join(", ")} or a path to a .json config`);
}

/** Derived sizes used everywhere. */
export function dims(c: ModelConfig) {
  return { D: c.dim, Q: c.n_heads * c.head_dim, KV: c.n_kv_heads * c.head_dim, F: c.hidden_dim, V: c.vocab_size,
    H: c.n_heads, KVH: c.n_kv_heads, hd: c.head_dim, G: c.n_heads / c.n_kv_heads, L: c.n_layers };
}
