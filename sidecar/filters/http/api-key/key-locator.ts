// Where a request's API key is: the configured header and query-parameter sources in order, each credential
// removed from the request unless keep_credential. A source present more than once makes the key ambiguous.
import { decodeQueryComponent } from '../../../router/string-matcher.js';
import type { ApiKeySourceConfig } from '../../../../src/xds/resources/filters/api-key.js';
import type { HeaderMap } from '../../../http/header-map.js';

/** What locate() found; one instance per filter chain, reused by every call (locate and its use are synchronous). */
export class LocatedKey {
  /** The key as a byte string (one char per byte: header bytes as received, query values UTF-8 encoded); null = none. */
  value: string | null;
  /** The first source present held more than one value (two headers, or the parameter twice). */
  ambiguous: boolean;
  /** The request target with every configured query credential removed; null = unchanged. */
  strippedTarget: string | null;

  constructor() {
    this.value = null;
    this.ambiguous = false;
    this.strippedTarget = null;
  }
}


/** A decoded (UTF-16) string as its UTF-8 bytes, one char per byte (no copy when it is ASCII). */
function utf8Bytes(s: string): string {
  return /^[\x00-\x7f]*$/.test(s) ? s : Buffer.from(s, 'utf8').toString('latin1');
}

/** The configured sources, compiled once per filter chain. */
export class KeyLocator {
  readonly #sources: readonly ApiKeySourceConfig[];
  readonly #headers: readonly string[];
  readonly #params: readonly string[];
  readonly #keep: boolean;
  readonly #out: LocatedKey;
  // Per-call scratch for the query scan, parallel to #params.
  readonly #paramValue: (string | null)[];
  readonly #paramCount: number[];

  constructor(sources: readonly ApiKeySourceConfig[], keepCredential: boolean) {
    this.#sources = sources;
    this.#headers = sources.filter((s) => s.kind === 'header').map((s) => s.name);
    this.#params = sources.filter((s) => s.kind === 'query').map((s) => s.name);
    this.#keep = keepCredential;
    this.#out = new LocatedKey();
    this.#paramValue = this.#params.map(() => null);
    this.#paramCount = this.#params.map(() => 0);
  }

  /**
   * Finds the key of the first source present (an empty value counts as absent) and, unless keep_credential,
   * removes every configured credential — also those of sources not consulted — from `headers` and the target.
   * `check` false (a skip rule): only the removal. The result is valid until the next call.
   */
  locate(headers: HeaderMap, target: string, check: boolean): LocatedKey {
    const out = this.#out;
    out.value = null;
    out.ambiguous = false;
    out.strippedTarget = null;
    if (this.#params.length > 0) this.#scanQuery(target, out);
    if (check) {
      const sources = this.#sources;
      for (let i = 0; i < sources.length; i++) {
        const s = sources[i]!;
        if (s.kind === 'header' ? this.#fromHeader(headers, s.name, out) : this.#fromParam(s.name, out)) break;
      }
    }
    if (!this.#keep) {
      const hs = this.#headers;
      for (let i = 0; i < hs.length; i++) headers.remove(hs[i]!);
    } else out.strippedTarget = null;
    return out;
  }

  /** True when the header is present with a non-empty value (then `out` holds it, or ambiguous). */
  #fromHeader(headers: HeaderMap, name: string, out: LocatedKey): boolean {
    const names = headers.names;
    let value: string | null = null;
    let count = 0;
    for (let i = 0; i < names.length; i++) {
      if (names[i] !== name) continue;
      count++;
      value = headers.values[i]!;
    }
    if (count === 0 || (count === 1 && value === '')) return false;
    if (count > 1) out.ambiguous = true;
    else out.value = value;
    return true;
  }

  #fromParam(name: string, out: LocatedKey): boolean {
    const i = this.#params.indexOf(name);
    const count = this.#paramCount[i]!;
    const value = this.#paramValue[i]!;
    if (count === 0 || (count === 1 && value === '')) return false;
    if (count > 1) out.ambiguous = true;
    else out.value = utf8Bytes(value!);
    return true;
  }

  /** Records each configured parameter's (decoded) value and count, and the target without them. */
  #scanQuery(target: string, out: LocatedKey): void {
    const params = this.#params;
    const values = this.#paramValue;
    const counts = this.#paramCount;
    for (let i = 0; i < params.length; i++) {
      values[i] = null;
      counts[i] = 0;
    }
    const q = target.indexOf('?');
    if (q === -1) return;
    const hash = target.indexOf('#', q);
    const end = hash === -1 ? target.length : hash;
    let kept = '';
    let removed = false;
    let start = q + 1;
    while (start <= end) {
      let amp = target.indexOf('&', start);
      if (amp === -1 || amp > end) amp = end;
      const seg = target.slice(start, amp);
      const eq = seg.indexOf('=');
      const idx = seg === '' ? -1 : params.indexOf(decodeQueryComponent(eq === -1 ? seg : seg.slice(0, eq)));
      if (idx === -1) {
        if (seg !== '') kept = kept === '' ? seg : `${kept}&${seg}`;
      } else {
        removed = true;
        counts[idx]!++;
        values[idx] = eq === -1 ? '' : decodeQueryComponent(seg.slice(eq + 1));
      }
      start = amp + 1;
    }
    if (removed) out.strippedTarget = `${target.slice(0, q)}${kept === '' ? '' : `?${kept}`}${target.slice(end)}`;
  }
}
