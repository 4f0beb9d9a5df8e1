// HeaderMap: an ordered multi-map of HTTP headers with lower-cased names, shared by codec, filters and router.
// Parallel arrays keep one stable shape and make serialization a flat loop.
export class HeaderMap {
  readonly names: string[];
  readonly values: string[];

  constructor() {
    this.names = [];
    this.values = [];
  }

  get size(): number {
    return this.names.length;
  }

  /** First value for `name` (lower-case), or undefined. */
  get(name: string): string | undefined {
    const n = this.names;
    for (let i = 0; i < n.length; i++) if (n[i] === name) return this.values[i];
    return undefined;
  }

  getAll(name: string): string[] {
    const out: string[] = [];
    const n = this.names;
    for (let i = 0; i < n.length; i++) if (n[i] === name) out.push(this.values[i]!);
    return out;
  }

  /** All values for `name` joined with ', ' (RFC 9110 list form), or undefined. */
  getJoined(name: string): string | undefined {
    let out: string | undefined;
    const n = this.names;
    for (let i = 0; i < n.length; i++) {
      if (n[i] === name) out = out === undefined ? this.values[i] : `${out}, ${this.values[i]}`;
    }
    return out;
  }

  has(name: string): boolean {
    return this.names.indexOf(name) !== -1;
  }

  count(name: string): number {
    let c = 0;
    for (const x of this.names) if (x === name) c++;
    return c;
  }

  /** Appends a header; `name` must already be lower-case. */
  add(name: string, value: string): void {
    this.names.push(name);
    this.values.push(value);
  }

  /** Replaces every `name` with one header (appended at the first occurrence's place, or the end). */
  set(name: string, value: string): void {
    const i = this.names.indexOf(name);
    if (i === -1) {
      this.add(name, value);
      return;
    }
    this.values[i] = value;
    this.removeFrom(name, i + 1);
  }

  /** Removes every `name`; returns how many were removed. */
  remove(name: string): number {
    return this.removeFrom(name, 0);
  }

  private removeFrom(name: string, start: number): number {
    const n = this.names;
    const first = n.indexOf(name, start);
    if (first === -1) return 0; // the common case: nothing to remove, arrays untouched
    const v = this.values;
    let w = first;
    for (let r = first + 1; r < n.length; r++) {
      if (n[r] !== name) {
        n[w] = n[r]!;
        v[w] = v[r]!;
        w++;
      }
    }
    const removed = n.length - w;
    n.length = w;
    v.length = w;
    return removed;
  }

  forEach(fn: (name: string, value: string) => void): void {
    for (let i = 0; i < this.names.length; i++) fn(this.names[i]!, this.values[i]!);
  }

  clone(): HeaderMap {
    const h = new HeaderMap();
    h.names.push(...this.names);
    h.values.push(...this.values);
    return h;
  }

  toObject(): Record<string, string> {
    const o: Record<string, string> = {};
    for (let i = 0; i < this.names.length; i++) {
      const k = this.names[i]!;
      o[k] = o[k] === undefined ? this.values[i]! : `${o[k]}, ${this.values[i]}`;
    }
    return o;
  }

  static from(entries: Iterable<readonly [string, string]>): HeaderMap {
    const h = new HeaderMap();
    for (const [k, v] of entries) h.add(k.toLowerCase(), v);
    return h;
  }
}
