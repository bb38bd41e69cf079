/**
 * Choosing the next token from logits: greedy (argmax), or sampling from softmax(logits / T)
 * restricted to the top-k ids and then to the smallest set of most likely ids whose mass
 * reaches top-p. Probabilities are float64; ties rank the lower id first, so a run is a pure
 * function of (logits, options, seed).
 */

export interface SamplerOptions {
  /** 0 = greedy. */
  temperature: number;
  /** Keep the k most likely ids; 0 = no limit. */
  topK: number;
  /** Keep the most likely ids until their mass reaches p (1 = no limit). */
  topP: number;
  seed: number;
}

/** xoshiro128** (Blackman & Vigna), seeded through splitmix32: a small, fast, portable PRNG. */
export class Rng {
  private s = new Uint32Array(4);
  constructor(seed: number) {
    let z = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      z = (z + 0x9e3779b9) >>> 0;
      let t = z;
      t = Math.imul(t ^ (t >>> 16), 0x85ebca6b);
      t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35);
      this.s[i] = (t ^ (t >>> 16)) >>> 0;
    }
  }
  nextU32(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = rotl(s[3], 11);
    return r;
  }
  /** Uniform in [0, 1) with 53 random bits. */
  next(): number {
    return ((this.nextU32() >>> 5) * 67108864 + (this.nextU32() >>> 6)) / 9007199254740992;
  }
}

function rotl(x: number, k: number): number { return ((x << k) | (x >>> (32 - k))) >>> 0; }

export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** Ids of the k largest logits (all ids when k is 0 or >= length), most likely first. */
export function topKIds(logits: ArrayLike<number>, k: number): Int32Array {
  const n = logits.length;
  let ids: Int32Array;
  if (k > 0 && k < n) {
    // The k-th largest value by selection, then every id above it and enough ids equal to it
    // (lowest ids first), so only k ids need sorting.
    const vals = Float64Array.from(logits as ArrayLike<number>);
    const kth = select(vals, n - k);
    ids = new Int32Array(k);
    let m = 0;
    for (let i = 0; i < n; i++) if (logits[i] > kth) ids[m++] = i;
    for (let i = 0; i < n && m < k; i++) if (logits[i] === kth) ids[m++] = i;
  } else {
    ids = Int32Array.from({ length: n }, (_, i) => i);
  }
  return ids.sort((a, b) => (logits[b] - logits[a]) || (a - b));
}

/** The value that would sit at index `at` if `a` were sorted ascending (quickselect; reorders a). */
function select(a: Float64Array, at: number): number {
  let lo = 0, hi = a.length - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1];
    let i = lo, j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) { const t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
    }
    if (at <= j) hi = j; else if (at >= i) lo = i; else return a[at];
  }
  return a[at];
}

/** The candidate ids and their normalised probabilities after temperature, top-k and top-p. */
export function candidates(logits: ArrayLike<number>, o: Omit<SamplerOptions, "seed">): { ids: Int32Array; probs: Float64Array } {
  const ids = topKIds(logits, o.topK);
  const top = logits[ids[0]];
  const p = new Float64Array(ids.length);
  let sum = 0;
  for (let i = 0; i < ids.length; i++) { p[i] = Math.exp((logits[ids[i]] - top) / o.temperature); sum += p[i]; }
  let keep = ids.length;
  if (o.topP < 1) {
    let mass = 0;
    for (let i = 0; i < ids.length; i++) {
      mass += p[i] / sum;
      if (mass >= o.topP) { keep = i + 1; break; }
    }
  }
  let kept = 0;
  for (let i = 0; i < keep; i++) kept += p[i];
  const probs = new Float64Array(keep);
  for (let i = 0; i < keep; i++) probs[i] = p[i] / kept;
  return { ids: ids.subarray(0, keep), probs };
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

  sample(logits: ArrayLike<number>): number {
    if (this.greedy) return argmax(logits);
    const { ids, probs } = candidates(logits, this.options);
    const r = this.rng.next();
    let acc = 0;
    for (let i = 0; i < ids.length; i++) {
      acc += probs[i];
      if (r < acc) return ids[i];
    }
    return ids[ids.length - 1];   // r within rounding of 1
  }
}
