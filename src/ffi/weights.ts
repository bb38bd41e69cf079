// Marshals a WeightMap into the ane_weight array libane reads during one call:
//   struct ane_weight { const char *name; const void *data; size_t size; }  = 3 x 8 bytes on 64-bit.
import { ptr, type Pointer } from "bun:ffi";
import type { WeightMap } from "./types.ts";
import { cbuf } from "./library.ts";

export interface WeightArray {
  /** Pointer argument for `const ane_weight *weights` (null when there are none). */
  table: BigUint64Array | null;
  count: number;
  /** Every buffer the table points into: the caller keeps this referenced until the call returns. */
  keepAlive: unknown[];
}

export function weightEntries(weights: WeightMap | undefined): Array<[string, Uint8Array]> {
  if (!weights) return [];
  return weights instanceof Map ? [...weights.entries()] : Object.entries(weights);
}

export function marshalWeights(weights: WeightMap | undefined): WeightArray {
  const entries = weightEntries(weights);
  if (entries.length === 0) return { table: null, count: 0, keepAlive: [] };
  const table = new BigUint64Array(entries.length * 3);
  const keepAlive: unknown[] = [table];
  entries.forEach(([name, data], i) => {
    if (!(data instanceof Uint8Array)) throw new TypeError(`weight "${name}": expected a Uint8Array of blob bytes`);
    const nameBuf = cbuf(name);
    keepAlive.push(nameBuf, data);
    table[i * 3] = BigInt(ptr(nameBuf));
    // An empty blob has no address to take; libane sees data=NULL, size=0.
    table[i * 3 + 1] = data.byteLength > 0 ? BigInt(ptr(data)) : 0n;
    table[i * 3 + 2] = BigInt(data.byteLength);
  });
  return { table, count: entries.length, keepAlive };
}

/** A `const void*` argument for a byte view (null when empty, since bun:ffi cannot take its address). */
export function dataPtr(data: Uint8Array): Pointer | null {
  return data.byteLength > 0 ? ptr(data) : null;
}
