// Where a provider finds tokens in a request: headers (with a value prefix), query parameters and cookies.
import type { JwtHeaderLocationConfig, JwtProviderConfig } from '../../../../src/xds/resources/filters/jwt-authn.js';
import type { HeaderMap } from '../../../http/header-map.js';
import { parseQuery } from '../../../router/string-matcher.js';

/** Envoy's default locations when a provider names none: `Authorization: Bearer <token>`, then `?access_token=`. */
const DEFAULT_HEADERS: readonly JwtHeaderLocationConfig[] = Object.freeze([Object.freeze({ name: 'authorization', valuePrefix: 'Bearer ' })]);
const DEFAULT_PARAMS: readonly string[] = Object.freeze(['access_token']);
const EMPTY: ReadonlyMap<string, string> = new Map();

/** A token found in a request, with the header it came from (null for a query parameter or cookie). */
export interface FoundToken {
  readonly token: string;
  readonly header: string | null;
}

/** One request's token sources; the query string and cookies are parsed on first use only. */
export class RequestTokenSources {
  readonly headers: HeaderMap;
  readonly #path: string;
  #query: ReadonlyMap<string, string> | null;
  #cookies: ReadonlyMap<string, string> | null;

  constructor(headers: HeaderMap, path: string) {
    this.headers = headers;
    this.#path = path;
    this.#query = null;
    this.#cookies = null;
  }

  param(name: string): string | undefined {
    if (this.#query === null) {
      const p = this.#path;
      const q = p.indexOf('?');
      if (q === -1) this.#query = EMPTY;
      else {
        const hash = p.indexOf('#', q);
        this.#query = parseQuery(p.slice(q + 1, hash === -1 ? p.length : hash));
      }
    }
    return this.#query.get(name);
  }

  cookie(name: string): string | undefined {
    if (this.#cookies === null) this.#cookies = parseCookies(this.headers);
    return this.#cookies.get(name);
  }
}

/** Every `cookie` header's pairs, first occurrence of a name wins; surrounding double quotes are removed. */
export function parseCookies(headers: HeaderMap): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  const names = headers.names;
  for (let i = 0; i < names.length; i++) {
    if (names[i] !== 'cookie') continue;
    for (const part of headers.values[i]!.split(';')) {
      const eq = part.indexOf('=');
      if (eq === -1) continue;
      const name = part.slice(0, eq).trim();
      let value = part.slice(eq + 1).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      if (name !== '' && !out.has(name)) out.set(name, value);
    }
  }
  return out;
}

/** `v` starts with `lowerPrefix` ignoring ASCII case (no allocation). */
function startsWithLower(v: string, lowerPrefix: string): boolean {
  const n = lowerPrefix.length;
  if (v.length < n) return false;
  for (let i = 0; i < n; i++) {
    let c = v.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lowerPrefix.charCodeAt(i)) return false;
  }
  return true;
}

/** A provider's token locations, with Envoy's defaults applied. */
export class TokenLocations {
  readonly headers: readonly JwtHeaderLocationConfig[];
  /** value prefixes lower-cased, parallel to `headers` (prefixes match ASCII case-insensitively, as auth schemes do). */
  readonly #prefixes: readonly string[];
  readonly params: readonly string[];
  readonly cookies: readonly string[];

  constructor(cfg: JwtProviderConfig) {
    const none = cfg.fromHeaders.length === 0 && cfg.fromParams.length === 0 && cfg.fromCookies.length === 0;
    this.headers = none ? DEFAULT_HEADERS : cfg.fromHeaders;
    this.#prefixes = this.headers.map((h) => h.valuePrefix.toLowerCase());
    this.params = none ? DEFAULT_PARAMS : cfg.fromParams;
    this.cookies = cfg.fromCookies;
  }

  /**
   * Appends every token found: each value of each configured header that starts with its prefix (a repeated header
   * yields one token per value, and all of them must verify), then query parameters, then cookies.
   */
  extract(src: RequestTokenSources, out: FoundToken[]): void {
    const h = src.headers;
    const hs = this.headers;
    for (let i = 0; i < hs.length; i++) {
      const name = hs[i]!.name;
      const prefix = this.#prefixes[i]!;
      const names = h.names;
      for (let j = 0; j < names.length; j++) {
        if (names[j] !== name) continue;
        const v = h.values[j]!;
        if (!startsWithLower(v, prefix)) continue;
        const token = v.slice(prefix.length).trim();
        if (token !== '') out.push({ token, header: name });
      }
    }
    const ps = this.params;
    for (let i = 0; i < ps.length; i++) {
      const t = src.param(ps[i]!);
      if (t !== undefined && t !== '') out.push({ token: t, header: null });
    }
    const cs = this.cookies;
    for (let i = 0; i < cs.length; i++) {
      const t = src.cookie(cs[i]!);
      if (t !== undefined && t !== '') out.push({ token: t, header: null });
    }
  }
}
