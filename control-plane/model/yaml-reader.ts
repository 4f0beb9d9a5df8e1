// YamlReader: typed reads over a parsed YAML document that collect every error as `file:line:col: path: message`.
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter } from 'yaml';

/** A value node of the document and the offset errors about it point at. */
export interface Field {
  readonly node: unknown;
  readonly pos: number;
}

interface Located {
  readonly pos: number;
  readonly seq: number;
  readonly text: string;
}

function rangeStart(node: unknown): number | null {
  const r = (node as { range?: unknown } | null)?.range;
  return Array.isArray(r) && typeof r[0] === 'number' ? r[0] : null;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** ` (did you mean 'x'?)` naming the nearest candidates (edit distance at most 2), else ''. */
export function didYouMean(value: string, candidates: readonly string[]): string {
  const dist = candidates.map((k) => editDistance(k.toLowerCase(), value.toLowerCase()));
  const best = Math.min(...dist);
  const near = best <= 2 ? candidates.filter((_, i) => dist[i] === best) : [];
  return near.length > 0 ? ` (did you mean ${near.map((k) => `'${k}'`).join(' or ')}?)` : '';
}

export function joinPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

export class YamlReader {
  readonly #file: string;
  readonly #lines: LineCounter;
  readonly #doc: Document;
  readonly #errors: Located[] = [];

  constructor(file: string, doc: Document, lines: LineCounter) {
    this.#file = file;
    this.#doc = doc;
    this.#lines = lines;
  }

  root(): Field {
    return { node: this.#resolve(this.#doc.contents), pos: rangeStart(this.#doc.contents) ?? 0 };
  }

  error(at: Field | number, path: string, message: string): void {
    const pos = typeof at === 'number' ? at : at.pos;
    const { line, col } = this.#lines.linePos(pos);
    const where = path === '' ? '' : `${path}: `;
    this.#errors.push({ pos, seq: this.#errors.length, text: `${this.#file}:${line}:${col}: ${where}${message}` });
  }

  /** Every error so far, in file order. */
  finish(): string[] {
    return [...this.#errors].sort((a, b) => a.pos - b.pos || a.seq - b.seq).map((e) => e.text);
  }

  line(pos: number): number {
    return this.#lines.linePos(pos).line;
  }

  get errorCount(): number {
    return this.#errors.length;
  }

  #resolve(node: unknown): unknown {
    if (isAlias(node)) return node.resolve(this.#doc) ?? null;
    return node;
  }

  #field(node: unknown, fallback: number): Field {
    const n = this.#resolve(node);
    return { node: n, pos: rangeStart(node) ?? fallback };
  }

  isNull(f: Field): boolean {
    return f.node === null || f.node === undefined || (isScalar(f.node) && f.node.value === null);
  }

  /**
   * Reads a mapping with a fixed key set; unknown keys are errors (with a suggestion for typos).
   * Returns null (after reporting) when `f` is not a mapping.
   */
  map(f: Field, path: string, keys: readonly string[]): Map<string, Field> | null {
    const entries = this.entries(f, path);
    if (entries === null) return null;
    const out = new Map<string, Field>();
    for (const [key, keyPos, value] of entries) {
      if (!keys.includes(key)) {
        const near = keys.filter((k) => editDistance(k, key) <= 2);
        const hint = near.length > 0 ? `did you mean ${near.map((k) => `'${k}'`).join(' or ')}?` : `expected one of ${keys.join(', ')}`;
        this.error(keyPos, joinPath(path, key), `unknown key (${hint})`);
        continue;
      }
      out.set(key, value);
    }
    return out;
  }

  /** Reads a mapping with free-form string keys, in file order. */
  entries(f: Field, path: string): Array<[string, number, Field]> | null {
    if (!isMap(f.node)) {
      this.error(f, path, 'must be a mapping');
      return null;
    }
    const out: Array<[string, number, Field]> = [];
    for (const pair of f.node.items) {
      const keyNode = this.#resolve(pair.key);
      const keyPos = rangeStart(pair.key) ?? f.pos;
      if (!isScalar(keyNode) || (typeof keyNode.value !== 'string' && typeof keyNode.value !== 'number')) {
        this.error(keyPos, path, 'keys must be strings');
        continue;
      }
      out.push([String(keyNode.value), keyPos, this.#field(pair.value, keyPos)]);
    }
    return out;
  }

  list(f: Field, path: string): Field[] | null {
    if (!isSeq(f.node)) {
      this.error(f, path, 'must be a list');
      return null;
    }
    return f.node.items.map((item) => this.#field(item, f.pos));
  }

  /** A missing required key, reported at the enclosing mapping. */
  required<T>(m: Map<string, Field>, key: string, parent: Field, path: string, read: (f: Field, p: string) => T | null): T | null {
    const f = m.get(key);
    if (f === undefined) {
      this.error(parent, joinPath(path, key), 'is required');
      return null;
    }
    return read(f, joinPath(path, key));
  }

  optional<T>(m: Map<string, Field>, key: string, path: string, read: (f: Field, p: string) => T | null): T | null | undefined {
    const f = m.get(key);
    if (f === undefined) return undefined;
    return read(f, joinPath(path, key));
  }

  scalar(f: Field): unknown {
    return isScalar(f.node) ? f.node.value : undefined;
  }

  string(f: Field, path: string, pattern?: RegExp, patternText?: string): string | null {
    const v = this.scalar(f);
    if (typeof v !== 'string') {
      this.error(f, path, typeof v === 'number' || typeof v === 'boolean' ? 'must be a string (quote it)' : 'must be a string');
      return null;
    }
    if (pattern && !pattern.test(v)) {
      this.error(f, path, `must match ${patternText ?? String(pattern)}, got '${v}'`);
      return null;
    }
    return v;
  }

  int(f: Field, path: string, min: number, max: number): number | null {
    const v = this.scalar(f);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.error(f, path, `must be an integer ${min}-${max}`);
      return null;
    }
    return v;
  }

  bool(f: Field, path: string): boolean | null {
    const v = this.scalar(f);
    if (typeof v !== 'boolean') {
      this.error(f, path, 'must be true or false');
      return null;
    }
    return v;
  }

  /** A number (integer or not) in [min, max]. */
  number(f: Field, path: string, min: number, max: number): number | null {
    const v = this.scalar(f);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      this.error(f, path, `must be a number ${min}-${max}`);
      return null;
    }
    return v;
  }

  oneOf<T extends string>(f: Field, path: string, values: readonly T[]): T | null {
    const v = this.scalar(f);
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
      const hint = typeof v === 'string' ? didYouMean(v, values) : '';
      this.error(f, path, `must be one of ${values.join(', ')}${hint}`);
      return null;
    }
    return v as T;
  }
}
