// WeightedPick: a fixed list drawn proportionally to weight (weighted clusters of routes and tcp_proxy).
export class WeightedPick<T> {
  readonly #items: readonly T[];
  readonly #cumulative: Float64Array;
  readonly #total: number;

  /** `items` non-empty; negative weights count as 0; all-zero weights always yield the first item. */
  constructor(items: readonly T[], weights: readonly number[]) {
    this.#items = items;
    this.#cumulative = new Float64Array(items.length);
    let sum = 0;
    for (let i = 0; i < items.length; i++) {
      sum += Math.max(0, weights[i] ?? 0);
      this.#cumulative[i] = sum;
    }
    this.#total = sum;
  }

  pick(random: () => number): T {
    const items = this.#items;
    if (this.#total <= 0) return items[0]!;
    const r = random() * this.#total;
    const cum = this.#cumulative;
    for (let i = 0; i < cum.length; i++) if (r < cum[i]!) return items[i]!;
    return items[items.length - 1]!;
  }
}
