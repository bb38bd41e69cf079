// `rustane train`: the main job. With no arguments it trains the small byte-level model on the
// Brown corpus built into the executable, and leaves checkpoints in the run directory it names.
import { Option } from "clipanion";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { openBackend, setThreads } from "../ffi/index.ts";
import { loadModelConfig, builtInModelNames } from "../model/config.ts";
import { loadCheckpoint } from "../checkpoint/state.ts";
import { loadLlama2cCheckpoint, isLlama2cPath } from "../model/llama2c.ts";
import { Dataset, loadText, loadTokenFile, type DataSource } from "../data/dataset.ts";
import { checkTokenizerFits, loadTokenizer, tokenizerFor, tokenizerFromDescription, type Tokenizer } from "../data/tokenizer.ts";
import { builtinCorpusPath, pythonStdlibPath, BUILTIN_CORPUS_NAME } from "../data/corpus.ts";
import { train } from "../train/trainer.ts";
import { RustaneCommand, usageError, parseChoice, parseNumber } from "./base.ts";
import { RUSTANE_VERSION } from "./version.ts";

export class TrainCommand extends RustaneCommand {
  static paths = [["train"]];
  static usage = RustaneCommand.Usage({
    description: "train a model (by default: the small byte-level model on the built-in Brown corpus)",
    details: "Kernels are compiled once; weights travel in the input surfaces (the dynamic-weight pipeline). Checkpoints (safetensors) and telemetry (JSON lines) go to the run directory.",
    examples: [
      ["Train the default model on the built-in corpus", "$0 train"],
      ["Train Stories110M on a llama2.c token file", "$0 train --model stories110m --data tinystories.bin --steps 1000"],
      ["Resume a run", "$0 train --resume runs/small/latest.safetensors"],
    ],
  });

  model = Option.String("--model", { description: `a built-in model (${builtInModelNames().join(", ")}) or a .json config (default small)` });
  data = Option.String("--data", { description: "token file (.bin: flat uint16/uint32), or a text file or folder (default: the model's default_data: the built-in corpus, or the Python standard library)" });
  tokenizer = Option.String("--tokenizer", { description: "tokenizer for text data: byte, char, or a tokenizer.bin / tokenizer.json file (default: the model's, when it needs no file)" });
  tokenDtype = Option.String("--token-dtype", { description: "dtype of a .bin token file: uint16 (default) or uint32" });
  steps = Option.String("--steps", { description: "optimizer steps (default 600)" });
  seq = Option.String("--seq", { description: "tokens per sequence (default: the model's train_seq, else min(256, max_seq_len))" });
  accum = Option.String("--accum", { description: "micro-batches (sequences) per optimizer step (default 1)" });
  lr = Option.String("--lr", { description: "peak learning rate (default 1e-3)" });
  minLr = Option.String("--min-lr", { description: "final learning rate of the cosine decay (default lr/10)" });
  warmup = Option.String("--warmup", { description: "linear warmup steps (default 30)" });
  weightDecay = Option.String("--weight-decay", { description: "AdamW decoupled weight decay, not applied to norms (default 0.1)" });
  clip = Option.String("--clip", { description: "global gradient-norm clip, 0 = off (default 1.0)" });
  actClip = Option.String("--act-clip", { description: "clamp the residual stream to [-X, X] each layer (keeps fp16 activations from overflowing); 0 = off (default)" });
  lossScale = Option.String("--loss-scale", { description: "loss scale for fp16 gradients (default 256)" });
  lossScaleMode = Option.String("--loss-scale-mode", { description: "static (default) or dynamic (back off on inf/NaN, grow after clean steps)" });
  numerics = Option.String("--numerics", { description: "fp16 (the ANE's, default) or fp32 (reference)" });
  backend = Option.String("--backend", { description: "cpu, ane or auto (default auto)" });
  chip = Option.String("--chip", { description: "chip profile: m1..m5 or none (default: the backend's)" });
  valEvery = Option.String("--val-every", { description: "validate every N steps, 0 = never (default 100)" });
  valWindows = Option.String("--val-windows", { description: "validation sequences per evaluation (default 16)" });
  valFraction = Option.String("--val-fraction", { description: "share of the data held out for validation (default 0.1)" });
  ckptEvery = Option.String("--ckpt-every", { description: "write latest.safetensors every N steps (default 100)" });
  logEvery = Option.String("--log-every", { description: "log (and write telemetry) every N steps (default 10)" });
  seed = Option.String("--seed", { description: "seed for init and data order (default 1)" });
  out = Option.String("--out", { description: "run directory (default runs/<model>-<time>)" });
  resume = Option.String("--resume", { description: "continue bit-identically from a checkpoint written by rustane train" });
  init = Option.String("--init", { description: "start from a checkpoint's weights (rustane .safetensors or llama2.c .bin) with a fresh optimizer" });
  threads = Option.String("--threads", { description: "CPU threads for libane (default: all)" });
  telemetry = Option.Boolean("--telemetry", false, { description: "also write the telemetry JSON lines to stderr" });
  quiet = Option.Boolean("--quiet", false, { description: "no progress output" });

  async run(): Promise<number> {
    if (this.resume && this.init) throw usageError("--resume and --init cannot be combined");
    const resume = this.resume ? loadCheckpoint(this.resume) : undefined;
    const init = this.init ? (isLlama2cPath(this.init) ? loadLlama2cCheckpoint(this.init) : loadCheckpoint(this.init)) : undefined;
    if (resume && !resume.state) throw usageError(`--resume ${this.resume}: the checkpoint has no training state (use --init to start from its weights)`);
    const model = resume?.config ?? init?.config ?? loadModelConfig(this.model ?? "small");
    if (this.model && (resume || init) && loadModelConfig(this.model).name !== model.name)
      throw usageError(`--model ${this.model} differs from the checkpoint's model ${model.name}`);
    const numerics = parseChoice("--numerics", this.numerics, ["fp16", "fp32"] as const) ?? "fp16";
    const seq = parseNumber("--seq", this.seq, model.train_seq ?? Math.min(256, model.max_seq_len), { int: true, min: 1, max: model.max_seq_len });
    if (this.threads) setThreads(parseNumber("--threads", this.threads, 0, { int: true, min: 1, max: 1024 }));

    let tokenizer: Tokenizer | null = null;
    let source: DataSource;
    const defaultData = !this.data && model.default_data === "builtin";
    const dataPath = this.data ?? (model.default_data === "python-stdlib" ? pythonStdlibPath() : await builtinCorpusPath());
    if (dataPath.endsWith(".bin")) {
      const dt = parseChoice("--token-dtype", this.tokenDtype, ["uint16", "uint32"] as const) ?? "uint16";
      source = loadTokenFile(dataPath, dt);
    } else {
      // Resuming keeps the run's tokenizer; otherwise --tokenizer, or the model's own kind.
      const stored = (resume ?? init)?.tokenizer;
      tokenizer = this.tokenizer ? loadTokenizer(this.tokenizer) : stored ? tokenizerFromDescription(stored) : tokenizerFor(model.tokenizer);
      checkTokenizerFits(tokenizer, model);
      source = loadText(dataPath, tokenizer);
      if (defaultData) source = { ...source, description: `${BUILTIN_CORPUS_NAME}: ${source.tokens.length.toLocaleString("en-US")} byte tokens` };
    }
    const valFraction = parseNumber("--val-fraction", this.valFraction, 0.1, { min: 0, max: 0.5 });
    const data = new Dataset(source, model.vocab_size, seq, valFraction);
    if (resume?.vocabIds && resume.vocabIds.join(",") !== data.vocabIds.join(","))
      throw usageError(`--resume: the data's vocabulary (${data.vocabIds.length} ids) differs from the checkpoint's (${resume.vocabIds.length}): resume with the same data`);
    const bytesPerToken = source.bytes !== null ? source.bytes / source.tokens.length : null;

    const lr = parseNumber("--lr", this.lr, 1e-3, { min: 0 });
    const steps = parseNumber("--steps", this.steps, 600, { int: true, min: 1 });
    const stamp = new Date().toISOString().replace(/[:T]/g, "-").slice(0, 19);
    const runDir = this.out ?? (resume && this.resume ? join(this.resume, "..") : join("runs", `${model.name}-${stamp}`));
    if (!resume && this.out && existsSync(join(this.out, "latest.safetensors")))
      throw usageError(`--out ${this.out} already holds a run (latest.safetensors): use --resume ${join(this.out, "latest.safetensors")} or another --out`);

    using backend = openBackend(this.backend ?? "auto");
    const result = await train({
      backend, model, numerics, chip: this.chip, seq,
      microBatches: parseNumber("--accum", this.accum, 1, { int: true, min: 1 }),
      steps, lr, minLr: parseNumber("--min-lr", this.minLr, lr / 10, { min: 0 }), warmup: parseNumber("--warmup", this.warmup, 30, { int: true, min: 0 }),
      weightDecay: parseNumber("--weight-decay", this.weightDecay, 0.1, { min: 0 }), beta1: 0.9, beta2: 0.95, eps: 1e-8,
      clip: parseNumber("--clip", this.clip, 1.0, { min: 0 }),
      actClip: parseNumber("--act-clip", this.actClip, 0, { min: 0, max: 65504 }),
      lossScale: parseNumber("--loss-scale", this.lossScale, 256, { min: 1 }),
      lossScaleMode: parseChoice("--loss-scale-mode", this.lossScaleMode, ["static", "dynamic"] as const) ?? "static",
      valEvery: parseNumber("--val-every", this.valEvery, 100, { int: true, min: 0 }),
      valWindows: parseNumber("--val-windows", this.valWindows, 16, { int: true, min: 1 }),
      ckptEvery: parseNumber("--ckpt-every", this.ckptEvery, 100, { int: true, min: 0 }),
      logEvery: parseNumber("--log-every", this.logEvery, 10, { int: true, min: 1 }),
      seed: parseNumber("--seed", this.seed, 1, { int: true, min: 0 }),
      runDir, telemetryStderr: this.telemetry, progress: !this.quiet, quiet: this.quiet,
      data, dataBytesPerToken: bytesPerToken, tokenizer, version: RUSTANE_VERSION, resume, init,
    });
    if (!this.quiet) {
      this.context.stdout.write(`done: ${result.steps} steps, loss ${result.firstLoss.toFixed(3)} -> ${result.finalLoss.toFixed(3)}` +
        `${result.bestValLoss !== null ? `, best val loss ${result.bestValLoss.toFixed(3)}` : ""}; ${result.msPerStep.toFixed(1)} ms/step\n`);
      if (result.latest) this.context.stdout.write(`checkpoint: ${result.latest}\n`);
    }
    return 0;
  }
}
