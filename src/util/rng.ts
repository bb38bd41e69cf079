/**
 * rustane's one seeded generator (data order in training, sampling in generation): xorshift64*,
 * with a state that round-trips through checkpoints as a decimal string, so a resumed run
 * continues the same sequence.
 */
export class Rng {
  private s: bigint;
  constructor(seed: number | string) {
    this.s = BigInt.asUintN(64, BigInt(seed) * 0x9E3779B97F4A7C15n + 0x2545F4914F6CDD1Dn) || 1n;
  }
  next(): number {
    let x = this.s;
    x ^= x >> 12n; x ^= BigInt.asUintN(64, x << 25n); x ^= x >> 27n;
    this.s = x;
    return Number(BigInt.asUintN(64, x * 0x2545F4914F6CDD1Dn) >> 11n) / 2 ** 53;
  }
  get state(): string { return this.s.toString(); }
  set state(v: string) { this.s = BigInt(v); }
}

