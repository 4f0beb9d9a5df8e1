// Route hash_policy evaluation (Envoy's HashPolicyImpl::generateHash) for RING_HASH / MAGLEV clusters.
// Each policy that yields a hash is folded in as rotl(hash, 1) ^ new; a terminal policy that has a hash ends it.
import { uint64ToHex, xxhash64 } from '../../src/core/xxhash64.js';
import type { HashPolicyConfig } from '../../src/xds/resources/types.js';
import type { HeaderMap } from '../http/header-map.js';

export interface HashRequest {
  readonly headers: HeaderMap;
  /** Request target as received (origin-form path with query). */
  readonly path: string;
  /** Downstream remote IP as a string ('' when unknown). */
  readonly sourceIp: string;
}

export interface RequestHash {
  /** null when no policy produced a hash (the LB then picks at random). */
  readonly hash: bigint | null;
  /** A `Set-Cookie` value to add to the response (a cookie policy with ttl generated the cookie), else null. */
  readonly setCookie: string | null;
}

const MASK64 = 0xffffffffffffffffn;
const NO_HASH: RequestHash = Object.freeze({ hash: null, setCookie: null });

/**
 * Evaluates `policies` in order (Envoy semantics):
 * - header: all values of the header, sorted, concatenated, hashed (`:authority` falls back to `host`, `:path` is the path);
 * - cookie: the named cookie's value; when absent and `ttlMs` is set, a value is generated — Envoy hashes the
 *   downstream remote and local addresses; Tessera has only the source IP here and hashes that — and a
 *   `name="value"; Max-Age=N; Path=p; HttpOnly` Set-Cookie is returned (Max-Age omitted for ttl 0, Path for '');
 * - source_ip: the downstream IP;
 * - query_parameter: the first value of that parameter in the path's query (not percent-decoded; a bare name is '').
 * Called per request only for routes that have hash policies.
 */
export function computeRequestHash(policies: readonly HashPolicyConfig[], req: HashRequest): RequestHash {
  if (policies.length === 0) return NO_HASH;
  let hash: bigint | null = null;
  let setCookie: string | null = null;
  for (const p of policies) {
    let h: bigint | null = null;
    switch (p.kind) {
      case 'header':
        h = headerHash(req, p.name);
        break;
      case 'cookie': {
        let value = cookieValue(req.headers, p.name);
        if (value === null && p.ttlMs !== null) {
          value = uint64ToHex(xxhash64(req.sourceIp));
          setCookie = makeSetCookie(p.name, value, p.path, Math.floor(p.ttlMs / 1000));
        }
        if (value !== null) h = xxhash64(value);
        break;
      }
      case 'source_ip':
        if (req.sourceIp !== '') h = xxhash64(req.sourceIp);
        break;
      case 'query_parameter': {
        const v = queryParameter(req.path, p.name);
        if (v !== null) h = xxhash64(v);
        break;
      }
    }
    if (h !== null) {
      // Rotating the previous value keeps duplicate rules from cancelling each other out.
      hash = hash === null ? h : ((((hash << 1n) | (hash >> 63n)) & MASK64) ^ h);
    }
    if (p.terminal && hash !== null) break;
  }
  return hash === null && setCookie === null ? NO_HASH : { hash, setCookie };
}

function headerHash(req: HashRequest, name: string): bigint | null {
  let values = req.headers.getAll(name);
  if (values.length === 0) {
    if (name === ':authority') values = req.headers.getAll('host');
    else if (name === ':path' && req.path !== '') values = [req.path];
  }
  if (values.length === 0) return null;
  if (values.length === 1) return xxhash64(values[0]!);
  // The same set of values hashes the same in any order.
  values.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return xxhash64(values.join(''));
}

/** The first `name=value` among all Cookie headers (quotes around the value removed); null when absent or empty. */
export function cookieValue(headers: HeaderMap, name: string): string | null {
  const names = headers.names;
  for (let i = 0; i < names.length; i++) {
    if (names[i] !== 'cookie') continue;
    const header = headers.values[i]!;
    let start = 0;
    while (start < header.length) {
      let end = header.indexOf(';', start);
      if (end === -1) end = header.length;
      let s = start;
      while (s < end && header.charCodeAt(s) === 32) s++;
      const eq = header.indexOf('=', s);
      if (eq !== -1 && eq < end && header.slice(s, eq) === name) {
        let v = header.slice(eq + 1, end);
        if (v.length >= 2 && v.charCodeAt(0) === 34 && v.charCodeAt(v.length - 1) === 34) v = v.slice(1, -1);
        return v === '' ? null : v;
      }
      start = end + 1;
    }
  }
  return null;
}

/** The first value of query parameter `name` in `path` (raw, not decoded); '' for a bare `name`; null when absent. */
export function queryParameter(path: string, name: string): string | null {
  const q = path.indexOf('?');
  if (q === -1) return null;
  let end = path.indexOf('#', q);
  if (end === -1) end = path.length;
  let start = q + 1;
  while (start < end) {
    let amp = path.indexOf('&', start);
    if (amp === -1 || amp > end) amp = end;
    const eq = path.indexOf('=', start);
    if (eq !== -1 && eq < amp) {
      if (path.slice(start, eq) === name) return path.slice(eq + 1, amp);
    } else if (path.slice(start, amp) === name) {
      return '';
    }
    start = amp + 1;
  }
  return null;
}

/** Envoy's makeSetCookieValue with httponly. */
export function makeSetCookie(name: string, value: string, path: string, maxAgeSeconds: number): string {
  let s = `${name}="${value}"`;
  if (maxAgeSeconds !== 0) s += `; Max-Age=${maxAgeSeconds}`;
  if (path !== '') s += `; Path=${path}`;
  return `${s}; HttpOnly`;
}
