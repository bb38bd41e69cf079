/**
 * Loss scaling keeps fp16 gradients alive: the loss (and so every gradient) is multiplied by
 * `scale` before the backward pass and divided out before the optimizer. Static: the scale
 * never changes. Dynamic: on an inf/NaN gradient the step is skipped and the scale halves;
 * after `growthInterval` clean steps it doubles (bounded to [1, 2^24]).
 */
export interface LossScaleState { scale: number; cleanSteps: number; skipped: number }

export class LossScaler {
  state: LossScaleState;
  constructor(readonly mode: "static" | "dynamic", initial: number, readonly growthInterval = 200) {
    if (!(initial >= 1)) throw new Error(`loss scale must be >= 1 (got ${initial})`);
    this.state = { scale: initial, cleanSteps: 0, skipped: 0 };
  }
  get scale(): number { return this.state.scale; }
  /** Record the outcome of an optimizer step; returns whether the step may be applied. */
  update(finite: boolean): boolean {
    const s = this.state;
    if (finite) {
      if (this.mode === "dynamic" && ++s.cleanSteps >= this.growthInterval) {
        s.scale = Math.min(s.scale * 2, 2 ** 24);
        s.cleanSteps = 0;
      }
      return true;
    }
    s.skipped++;
    s.cleanSteps = 0;
    if (this.mode === "dynamic") s.scale = Math.max(1, s.scale / 2);
    return false;  // an inf/NaN gradient never reaches the weights, in either mode
  }
}
