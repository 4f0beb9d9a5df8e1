// Earliest-deadline-first scheduler over a fixed set of indices (Envoy's EdfScheduler): O(log n) pick, no allocation.

/** A binary min-heap of entry indices keyed by (deadline, insertion order). */
export class EdfScheduler {
  readonly #heap: Int32Array;
  readonly #deadline: Float64Array;
  readonly #order: Float64Array;
  #now = 0;
  #seq = 0;

  /** `weights[i] > 0`; entry i starts with deadline 1/weights[i]. */
  constructor(weights: ArrayLike<number>) {
    const n = weights.length;
    this.#heap = new Int32Array(n);
    this.#deadline = new Float64Array(n);
    this.#order = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      this.#heap[i] = i;
      this.#deadline[i] = 1 / weights[i]!;
      this.#order[i] = this.#seq++;
    }
    for (let i = (n >> 1) - 1; i >= 0; i--) this.#siftDown(i);
  }

  get size(): number {
    return this.#heap.length;
  }

  /** Index with the earliest deadline (-1 when empty); does not reschedule it. */
  peek(): number {
    return this.#heap.length === 0 ? -1 : this.#heap[0]!;
  }

  /** Reschedules the entry at the top (the one `peek()` returned) with a new weight. */
  rescheduleTop(weight: number): void {
    const top = this.#heap[0]!;
    this.#now = this.#deadline[top]!;
    this.#deadline[top] = this.#now + 1 / weight;
    this.#order[top] = this.#seq++;
    this.#siftDown(0);
  }

  #less(a: number, b: number): boolean {
    const da = this.#deadline[a]!;
    const db = this.#deadline[b]!;
    return da < db || (da === db && this.#order[a]! < this.#order[b]!);
  }

  #siftDown(i: number): void {
    const h = this.#heap;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      const r = l + 1;
      const m = r < n && this.#less(h[r]!, h[l]!) ? r : l;
      if (!this.#less(h[m]!, h[i]!)) return;
      const t = h[i]!;
      h[i] = h[m]!;
      h[m] = t;
      i = m;
    }
  }
}
