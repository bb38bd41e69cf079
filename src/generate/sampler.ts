/**
 * Choosing the next token from logits: greedy (argmax), or sampling from softmax(logits / T)
 * restricted to the top-k ids and then to the smallest set of most likely ids whose mass
 * reaches top-p. The per-logit work runs in C (ane_sample; its header states the exact rule);
 * this side keeps the seeded generator, one uniform number per token, so a run is a pure
 * function of (logits, options, seed).
 */
import { sampleToken } from "../ffi/decode-ops.ts";
import { Rng } from "../util/rng.ts";

export interface SamplerOptions {
  /** 0 = greedy. */
  temperature: number;
  /** Keep the k most likely ids; 0 = no limit. */
  topK: number;
  /** Keep the most likely ids until their mass reaches p (1 = no limit). */
  topP: number;
  seed: number;
}

export class Sampler {
  readonly options: SamplerOptions;
  private readonly rng: Rng;

  constructor(o: SamplerOptions) {
    if (!(o.temperature >= 0) || !Number.isFinite(o.temperature)) throw new RangeError(`temperature must be a finite number >= 0 (got ${o.temperature})`);
    if (!Number.isInteger(o.topK) || o.topK < 0) throw new RangeError(`top-k must be an integer >= 0 (got ${o.topK})`);
    if (!(o.topP > 0 && o.topP <= 1)) throw new RangeError(`top-p must be in (0, 1] (got ${o.topP})`);
    this.options = o;
    this.rng = new Rng(o.seed);
  }

  get greedy(): boolean { return this.options.temperature === 0; }

  /** The next token; `allowed` (one byte per id, 0 = masked out) restricts the choice. */
  sample(logits: Float32Array, allowed: Uint8Array | null = null): number {
    const o = this.options;
    return sampleToken(logits, allowed, o.temperature, o.topK, o.topP, this.greedy ? 0 : this.rng.next());
  }
}
