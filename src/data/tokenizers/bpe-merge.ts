/**
 * The BPE merge loop shared by the llama2.c (SentencePiece) and Hugging Face tokenizers.
 *
 * Both repeatedly merge the adjacent pair of symbols with the best priority (lowest number),
 * the leftmost one on ties, until no adjacent pair merges. A naive loop rescans the whole word
 * after every merge (O(n^2) on long inputs such as a run of 10,000 spaces); here the symbols
 * form a doubly-linked list and candidate pairs sit in a binary min-heap keyed by
 * (priority, left position). A merge only creates the two pairs around the new symbol, so a word
 * of n symbols costs O(n log n). Heap entries are never removed: an entry whose symbols changed
 * since it was pushed is stale and is skipped when popped.
 */

/** What the merge loop asks of a vocabulary. */
export interface MergeRules {
  /**
   * The merge of symbols `left` and `right` (token ids), or -1 when they never merge. The merge
   * is an index into mergedId/priority: for Hugging Face it is the merge's rank, for
   * SentencePiece the merged piece's id.
   */
  find(left: number, right: number): number;
  /** The token id each merge produces. */
  readonly mergedId: Int32Array;
  /** Lower merges first; ties go to the leftmost pair. */
  readonly priority: Float64Array;
}

/**
 * A hash map from a pair of non-negative int32 (two token ids, two code points) to a
 * non-negative int32, with open addressing in typed arrays: the merge loop's hot lookup, several
 * times faster than a Map keyed by left * stride + right.
 */
export class PairTable {
  private keysLeft: Int32Array;
  private keysRight: Int32Array;
  private values: Int32Array;
  private mask: number;
  size = 0;

  constructor(expected: number) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.keysLeft = new Int32Array(cap).fill(-1);
    this.keysRight = new Int32Array(cap);
    this.values = new Int32Array(cap);
    this.mask = cap - 1;
  }

  private slot(left: number, right: number): number {
    return (Math.imul(left, 0x9e3779b1) ^ Math.imul(right + 0x7f4a7c15, 0x85ebca77)) >>> 0 & this.mask;
  }

  /** The value of (left, right), or -1. */
  get(left: number, right: number): number {
    for (let i = this.slot(left, right); ; i = (i + 1) & this.mask) {
      const k = this.keysLeft[i];
      if (k === -1) return -1;
      if (k === left && this.keysRight[i] === right) return this.values[i];
    }
  }

  /** Sets (left, right) to value, replacing an earlier value. */
  set(left: number, right: number, value: number): void {
    if ((this.size + 1) * 2 > this.values.length) this.grow();
    for (let i = this.slot(left, right); ; i = (i + 1) & this.mask) {
      const k = this.keysLeft[i];
      if (k === -1) { this.keysLeft[i] = left; this.keysRight[i] = right; this.values[i] = value; this.size++; return; }
      if (k === left && this.keysRight[i] === right) { this.values[i] = value; return; }
    }
  }

  private grow(): void {
    const l = this.keysLeft, r = this.keysRight, v = this.values;
    this.keysLeft = new Int32Array(l.length * 2).fill(-1);
    this.keysRight = new Int32Array(l.length * 2);
    this.values = new Int32Array(l.length * 2);
    this.mask = l.length * 2 - 1;
    this.size = 0;
    for (let i = 0; i < l.length; i++) if (l[i] !== -1) this.set(l[i], r[i], v[i]);
  }
}

/** A binary min-heap of candidate pairs, ordered by (priority, left symbol position). */
class PairHeap {
  private prio = new Float64Array(64);
  private pos = new Int32Array(64);
  private left = new Int32Array(64); // ids of the pair when pushed, to detect stale entries
  private right = new Int32Array(64);
  size = 0;

  private less(a: number, b: number): boolean {
    return this.prio[a] < this.prio[b] || (this.prio[a] === this.prio[b] && this.pos[a] < this.pos[b]);
  }
  private swap(a: number, b: number): void {
    let t = this.prio[a]; this.prio[a] = this.prio[b]; this.prio[b] = t;
    t = this.pos[a]; this.pos[a] = this.pos[b]; this.pos[b] = t;
    t = this.left[a]; this.left[a] = this.left[b]; this.left[b] = t;
    t = this.right[a]; this.right[a] = this.right[b]; this.right[b] = t;
  }
  private grow(): void {
    const n = this.prio.length * 2;
    const p = new Float64Array(n); p.set(this.prio); this.prio = p;
    const q = new Int32Array(n); q.set(this.pos); this.pos = q;
    const l = new Int32Array(n); l.set(this.left); this.left = l;
    const r = new Int32Array(n); r.set(this.right); this.right = r;
  }

  push(priority: number, position: number, leftId: number, rightId: number): void {
    if (this.size === this.prio.length) this.grow();
    let i = this.size++;
    this.prio[i] = priority; this.pos[i] = position; this.left[i] = leftId; this.right[i] = rightId;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Removes the top entry into out = [position, leftId, rightId]. */
  pop(out: Int32Array): void {
    out[0] = this.pos[0]; out[1] = this.left[0]; out[2] = this.right[0];
    const last = --this.size;
    if (last > 0) {
      this.prio[0] = this.prio[last]; this.pos[0] = this.pos[last]; this.left[0] = this.left[last]; this.right[0] = this.right[last];
      let i = 0;
      for (;;) {
        const a = 2 * i + 1, b = a + 1;
        let m = i;
        if (a < last && this.less(a, m)) m = a;
        if (b < last && this.less(b, m)) m = b;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
  }
}

/**
 * Merges the symbols `ids` (token ids, in text order) by the rules and returns the final ids.
 * `ids` is overwritten.
 */
export function bpeMerge(ids: Int32Array, rules: MergeRules): Int32Array {
  const n = ids.length;
  if (n < 2) return ids;
  // The list: next[i]/prev[i] link the live symbols; a merged-away symbol gets next = -2.
  const next = new Int32Array(n), prev = new Int32Array(n);
  for (let i = 0; i < n; i++) { next[i] = i + 1 < n ? i + 1 : -1; prev[i] = i - 1; }
  const heap = new PairHeap();
  const tryPush = (i: number, j: number) => {
    const m = rules.find(ids[i], ids[j]);
    if (m >= 0) heap.push(rules.priority[m], i, ids[i], ids[j]);
  };
  for (let i = 0; i + 1 < n; i++) tryPush(i, i + 1);

  const top = new Int32Array(3);
  let live = n;
  while (heap.size > 0) {
    heap.pop(top);
    const i = top[0], j = next[i];
    // Stale: the left symbol was merged away, or either side changed since the push.
    if (j < 0 || ids[i] !== top[1] || ids[j] !== top[2]) continue;
    ids[i] = rules.mergedId[rules.find(top[1], top[2])];
    // Unlink j.
    const k = next[j];
    next[i] = k;
    if (k >= 0) prev[k] = i;
    next[j] = -2;
    live--;
    if (prev[i] >= 0) tryPush(prev[i], i);
    if (k >= 0) tryPush(i, k);
  }
  const out = new Int32Array(live);
  for (let i = 0, o = 0; i >= 0; i = next[i]) out[o++] = ids[i];
  return out;
}
