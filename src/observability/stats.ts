// Stats store: counters and gauges resolved to handles at config time; names `<scope>.<name>` (Envoy style).
export class Counter {
  value = 0;
  constructor(readonly name: string) {}
  inc(n = 1): void {
    this.value += n;
  }
}

export class Gauge {
  value = 0;
  constructor(readonly name: string) {}
  inc(n = 1): void {
    this.value += n;
  }
  dec(n = 1): void {
    this.value -= n;
  }
  set(v: number): void {
    this.value = v;
  }
}

/** Owns every stat of one process; the same name always yields the same handle. */
export class StatsStore {
  readonly #counters = new Map<string, Counter>();
  readonly #gauges = new Map<string, Gauge>();

  counter(name: string): Counter {
    let c = this.#counters.get(name);
    if (!c) {
      c = new Counter(name);
      this.#counters.set(name, c);
    }
    return c;
  }

  gauge(name: string): Gauge {
    let g = this.#gauges.get(name);
    if (!g) {
      g = new Gauge(name);
      this.#gauges.set(name, g);
    }
    return g;
  }

  /** All stats sorted by name, as `{name: value}`; optionally only names starting with `prefix`. */
  snapshot(prefix = ''): Record<string, number> {
    const out: Record<string, number> = {};
    const names = [...this.#counters.keys(), ...this.#gauges.keys()].filter((n) => n.startsWith(prefix)).sort();
    for (const n of names) out[n] = (this.#counters.get(n) ?? this.#gauges.get(n))!.value;
    return out;
  }
}
