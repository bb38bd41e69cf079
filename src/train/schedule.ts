/** Learning rate: linear warmup from 0 to `lr` over `warmup` steps, then cosine decay to
 *  `minLr` at `total` steps (and `minLr` after). Steps count from 1. */
export function learningRate(step: number, o: { lr: number; minLr: number; warmup: number; total: number }): number {
  if (o.warmup > 0 && step <= o.warmup) return (o.lr * step) / o.warmup;
  if (step >= o.total) return o.minLr;
  const progress = (step - o.warmup) / Math.max(1, o.total - o.warmup);
  return o.minLr + 0.5 * (o.lr - o.minLr) * (1 + Math.cos(Math.PI * progress));
}
