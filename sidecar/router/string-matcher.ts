// Compiled StringMatcher / header matcher / query matcher: regexes anchored and values lower-cased at build time.
import { compileRegex } from '../../src/xds/resources/common.js';
import type { HeaderMap } from '../http/header-map.js';
import type {
  HeaderMatcherConfig,
  QueryParameterMatcherConfig,
  StringMatchConfig,
} from '../../src/xds/resources/types.js';

const K_EXACT = 0;
const K_PREFIX = 1;
const K_SUFFIX = 2;
const K_CONTAINS = 3;
const K_REGEX = 4;

/** Compiles an RE2-style pattern into a whole-string JS RegExp, exactly as the xDS validator checked it. */
export function compileAnchoredRegex(pattern: string): RegExp {
  return compileRegex(pattern);
}

/** One compiled envoy.type.matcher.v3.StringMatcher. */
export class StringMatcher {
  readonly #kind: number;
  readonly #value: string;
  readonly #ignoreCase: boolean;
  readonly #regex: RegExp | null;

  constructor(cfg: StringMatchConfig) {
    if (cfg.kind === 'regex') {
      this.#kind = K_REGEX;
      this.#value = '';
      this.#ignoreCase = false;
      this.#regex = compileAnchoredRegex(cfg.regex);
      return;
    }
    this.#kind = cfg.kind === 'exact' ? K_EXACT : cfg.kind === 'prefix' ? K_PREFIX : cfg.kind === 'suffix' ? K_SUFFIX : K_CONTAINS;
    this.#ignoreCase = cfg.ignoreCase;
    this.#value = cfg.ignoreCase ? cfg.value.toLowerCase() : cfg.value;
    this.#regex = null;
  }

  match(input: string): boolean {
    if (this.#kind === K_REGEX) return this.#regex!.test(input);
    const v = this.#ignoreCase ? input.toLowerCase() : input;
    switch (this.#kind) {
      case K_EXACT:
        return v === this.#value;
      case K_PREFIX:
        return v.startsWith(this.#value);
      case K_SUFFIX:
        return v.endsWith(this.#value);
      default:
        return v.includes(this.#value);
    }
  }
}

/** Values a header matcher reads besides the header map (pseudo-headers). */
export interface PseudoHeaders {
  readonly method: string;
  readonly authority: string;
  readonly path: string;
}

const H_PRESENT = 0;
const H_RANGE = 1;
const H_STRING = 2;

const P_NONE = 0;
const P_METHOD = 1;
const P_AUTHORITY = 2;
const P_PATH = 3;
const P_SCHEME = 4;

/** All values of `name` joined with ',' (Envoy's getAllOfHeaderAsString); no allocation for a single value. */
export function joinedHeader(headers: HeaderMap, name: string): string | undefined {
  const names = headers.names;
  let out: string | undefined;
  for (let i = 0; i < names.length; i++) {
    if (names[i] === name) out = out === undefined ? headers.values[i] : `${out},${headers.values[i]}`;
  }
  return out;
}

const INT_RE = /^[+-]?\d+$/;

/** One compiled route.v3.HeaderMatcher with Envoy's missing-header semantics. */
export class HeaderMatcher {
  readonly #name: string;
  readonly #pseudo: number;
  readonly #invert: boolean;
  readonly #kind: number;
  readonly #present: boolean;
  readonly #start: number;
  readonly #end: number;
  readonly #string: StringMatcher | null;

  constructor(cfg: HeaderMatcherConfig) {
    this.#name = cfg.name;
    this.#pseudo =
      cfg.name === ':method' ? P_METHOD
      : cfg.name === ':authority' || cfg.name === 'host' ? P_AUTHORITY
      : cfg.name === ':path' ? P_PATH
      : cfg.name === ':scheme' ? P_SCHEME
      : P_NONE;
    this.#invert = cfg.invert;
    const m = cfg.match;
    this.#kind = m.kind === 'present' ? H_PRESENT : m.kind === 'range' ? H_RANGE : H_STRING;
    this.#present = m.kind === 'present' ? m.present : false;
    this.#start = m.kind === 'range' ? m.start : 0;
    this.#end = m.kind === 'range' ? m.end : 0;
    this.#string = m.kind === 'string' ? new StringMatcher(m.string) : null;
  }

  match(headers: HeaderMap, pseudo: PseudoHeaders): boolean {
    let value: string | undefined;
    switch (this.#pseudo) {
      case P_METHOD:
        value = pseudo.method;
        break;
      case P_AUTHORITY:
        value = pseudo.authority;
        break;
      case P_PATH:
        value = pseudo.path;
        break;
      case P_SCHEME:
        value = headers.get(':scheme') ?? 'http';
        break;
      default:
        value = joinedHeader(headers, this.#name);
    }
    if (value === undefined) {
      // Envoy: a missing header matches only `present_match: false`, or an inverted `present_match: true`.
      return this.#kind === H_PRESENT && this.#present === this.#invert;
    }
    let matched: boolean;
    if (this.#kind === H_PRESENT) matched = this.#present;
    else if (this.#kind === H_RANGE) {
      if (!INT_RE.test(value)) matched = false;
      else {
        const n = Number(value);
        matched = n >= this.#start && n < this.#end;
      }
    } else matched = this.#string!.match(value);
    return matched !== this.#invert;
  }
}

/** One compiled route.v3.QueryParameterMatcher (first value of the parameter, as Envoy). */
export class QueryMatcher {
  readonly name: string;
  readonly #string: StringMatcher | null;

  constructor(cfg: QueryParameterMatcherConfig) {
    this.name = cfg.name;
    this.#string = cfg.string === null ? null : new StringMatcher(cfg.string);
  }

  match(params: ReadonlyMap<string, string>): boolean {
    const v = params.get(this.name);
    if (v === undefined) return false;
    return this.#string === null ? true : this.#string.match(v);
  }
}

/** A query component as route matching decodes it ('+' is a space, then percent-decoding; malformed = as is). */
export function decodeQueryComponent(s: string): string {
  const plus = s.includes('+') ? s.replace(/\+/g, ' ') : s;
  if (!plus.includes('%')) return plus;
  try {
    return decodeURIComponent(plus);
  } catch {
    return plus;
  }
}

/** Parses `a=1&b&c=%20` (the part after '?', without fragment) into name → first value, percent- and '+'-decoded. */
export function parseQuery(query: string): Map<string, string> {
  const out = new Map<string, string>();
  let start = 0;
  const len = query.length;
  while (start <= len) {
    let amp = query.indexOf('&', start);
    if (amp === -1) amp = len;
    if (amp > start) {
      const eq = query.indexOf('=', start);
      let name: string;
      let value: string;
      if (eq === -1 || eq > amp) {
        name = decodeQueryComponent(query.slice(start, amp));
        value = '';
      } else {
        name = decodeQueryComponent(query.slice(start, eq));
        value = decodeQueryComponent(query.slice(eq + 1, amp));
      }
      if (!out.has(name)) out.set(name, value);
    }
    start = amp + 1;
  }
  return out;
}
