// envoy.filters.http.jwt_authn: validates a decoded envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication into
// a frozen JwtAuthnConfig, and parses JWKS documents (inline here, fetched ones in the sidecar) into usable public keys.
//
// Decisions where Tessera differs from Envoy or narrows it (each NACKed field is named with its path):
// - local_jwks accepts inline_string only: validators are pure and the sidecar does no sync I/O after start-up, so
//   `filename`, `inline_bytes` and `environment_variable` are NACKed (put the JWKS inline).
// - remote_jwks.http_uri.cluster is required as in Envoy, but the sidecar dials the URI's host itself (node:http /
//   node:https, system CAs) rather than going through that cluster. retry_policy is NACKed; async_fetch is accepted
//   (first fetch when the filter chain is built; expired keys keep serving while the next request triggers a
//   background refresh, instead of Envoy's timer; fast_listener has no effect: listeners never wait for a JWKS).
//   cache_duration defaults to 10 minutes, Envoy's documented default.
// - `exp` is always required (a Tessera policy: no token lives forever); require_expiration is accepted and changes
//   nothing.
// - max_lifetime is implemented (exp − now must not exceed it). subjects, normalize_payload_in_metadata,
//   failed_status_in_metadata, clear_route_cache and filter_state_rules are NACKed (no filter state in Tessera).
// - Rule matches take prefix | path | safe_regex | path_separated_prefix, headers, query_parameters and
//   case_sensitive; other RouteMatch fields are NACKed.
import { deepFreeze } from '../../../core/result.js';
import {
  type Issues,
  NOT_SUPPORTED,
  bool,
  isObj,
  isSet,
  join,
  list,
  num,
  obj,
  onlyKnown,
  positiveDurationMs,
  str,
  strList,
  type Obj,
} from '../common.js';
import { TypeUrl } from '../../type-urls.js';
import type { RouteMatchConfig } from '../types.js';
import { routeMatch } from '../route.js';
import { registerHttpFilterConfig } from './index.js';

/** JWS algorithms Tessera verifies (RFC 7518 §3 plus EdDSA, RFC 8037); `none` is never among them. */
export type JwsAlgorithm = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA' | 'HS256' | 'HS384' | 'HS512';

/** One usable public (or, for oct, shared) verification key from a JWKS. */
export interface JwkConfig {
  readonly kty: 'RSA' | 'EC' | 'OKP' | 'oct';
  readonly kid: string | null;
  /** The algorithms this key may verify: chosen by key type (and curve), narrowed to the JWK's own `alg` when set. */
  readonly algs: readonly JwsAlgorithm[];
  /** The key's public members only (kty, n/e, crv/x/y, k): private members never leave the parser. */
  readonly jwk: Readonly<Record<string, string>>;
}

/** Where a provider looks for tokens. */
export interface JwtHeaderLocationConfig {
  /** Lower-cased header name. */
  readonly name: string;
  /** value_prefix (matched ASCII case-insensitively at the start of the value); '' = the whole value. */
  readonly valuePrefix: string;
}

export interface JwtClaimToHeaderConfig {
  /** Lower-cased header name. */
  readonly headerName: string;
  /** claim_name split on '.': a path into nested claims. */
  readonly claimPath: readonly string[];
}

export type JwksSourceConfig =
  | { readonly kind: 'local'; readonly keys: readonly JwkConfig[] }
  | {
      readonly kind: 'remote';
      readonly uri: string;
      /** Required as in Envoy; the sidecar dials the URI's host directly. */
      readonly cluster: string;
      readonly timeoutMs: number;
      readonly cacheDurationMs: number;
      /** async_fetch set: fetched in the background when the filter chain is built. */
      readonly asyncFetch: boolean;
      /** async_fetch.failed_refetch_duration (default 1 s); also the back-off after any failed fetch. */
      readonly failedRefetchMs: number;
    };

export interface JwtProviderConfig {
  readonly name: string;
  /** '' = any issuer. */
  readonly issuer: string;
  /** Empty = audiences not checked. */
  readonly audiences: readonly string[];
  readonly jwks: JwksSourceConfig;
  readonly forward: boolean;
  readonly fromHeaders: readonly JwtHeaderLocationConfig[];
  readonly fromParams: readonly string[];
  readonly fromCookies: readonly string[];
  /** Lower-cased; null = not set. */
  readonly forwardPayloadHeader: string | null;
  readonly padForwardPayloadHeader: boolean;
  readonly payloadInMetadata: string | null;
  readonly headerInMetadata: string | null;
  readonly claimToHeaders: readonly JwtClaimToHeaderConfig[];
  readonly clockSkewSeconds: number;
  readonly jwtCacheSize: number;
  /** max_lifetime in seconds; null = no limit. */
  readonly maxLifetimeSeconds: number | null;
}

/** A JwtRequirement with requirement names resolved. */
export type JwtRequirementConfig =
  | { readonly kind: 'provider'; readonly provider: string; readonly audiences: readonly string[] | null }
  | { readonly kind: 'any'; readonly requirements: readonly JwtRequirementConfig[] }
  | { readonly kind: 'all'; readonly requirements: readonly JwtRequirementConfig[] }
  /** Tokens found at these providers' locations are verified by the provider whose issuer they name. */
  | { readonly kind: 'allow_missing_or_failed'; readonly providers: readonly string[] }
  | { readonly kind: 'allow_missing'; readonly providers: readonly string[] }
  /** An empty JwtRequirement: nothing is verified. */
  | { readonly kind: 'none' };

export interface JwtRuleConfig {
  readonly match: RouteMatchConfig;
  readonly requirement: JwtRequirementConfig;
}

export interface JwtAuthnConfig {
  /** Sorted by name. */
  readonly providers: readonly JwtProviderConfig[];
  readonly rules: readonly JwtRuleConfig[];
  readonly bypassCorsPreflight: boolean;
  readonly stripFailureResponse: boolean;
}

/** Envoy's defaults. */
export const JWT_DEFAULTS = Object.freeze({
  clockSkewSeconds: 60,
  jwtCacheSize: 100,
  /** RemoteJwks.cache_duration unset: 10 minutes (Envoy's documented default). */
  cacheDurationMs: 600_000,
  failedRefetchMs: 1000,
});

/** A JWKS larger than this many keys is refused (inline: NACK; fetched: the fetch fails). */
export const MAX_JWKS_KEYS = 100;

const RSA_ALGS: readonly JwsAlgorithm[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
const EC_ALG: Readonly<Record<string, { alg: JwsAlgorithm; bytes: number }>> = {
  'P-256': { alg: 'ES256', bytes: 32 },
  'P-384': { alg: 'ES384', bytes: 48 },
  'P-521': { alg: 'ES512', bytes: 66 },
};
/** HMAC algorithms and the key length each needs (RFC 7518 §3.2: at least the hash size). */
const HS_ALGS: readonly { alg: JwsAlgorithm; minBytes: number }[] = [
  { alg: 'HS256', minBytes: 32 },
  { alg: 'HS384', minBytes: 48 },
  { alg: 'HS512', minBytes: 64 },
];
/** jose (and RFC 8725 practice) refuses RSA moduli below 2048 bits. */
const MIN_RSA_MODULUS_BYTES = 256;

const B64URL = /^[A-Za-z0-9_-]+$/;

function b64urlBytes(v: unknown): number {
  if (typeof v !== 'string' || v === '' || !B64URL.test(v) || v.length % 4 === 1) return -1;
  return Math.floor((v.length * 3) / 4);
}

/** Strips leading zero bytes' worth of length from a big-endian integer (RSA n may carry one). */
function rsaModulusBytes(n: string): number {
  const buf = Buffer.from(n, 'base64url');
  let i = 0;
  while (i < buf.length && buf[i] === 0) i++;
  return buf.length - i;
}

/**
 * One JWK → a usable key, null when it is not meant for signatures (use "enc", key_ops without verify), or an error
 * string when it is malformed or of a type/curve/algorithm Tessera does not verify.
 */
export function parseJwk(k: unknown): JwkConfig | null | string {
  if (!isObj(k)) return 'not an object';
  if (k.use !== undefined && k.use !== 'sig') {
    if (typeof k.use !== 'string') return '"use" must be a string';
    return null;
  }
  if (k.key_ops !== undefined) {
    if (!Array.isArray(k.key_ops)) return '"key_ops" must be an array';
    if (!k.key_ops.includes('verify')) return null;
  }
  if (k.kid !== undefined && typeof k.kid !== 'string') return '"kid" must be a string';
  if (k.alg !== undefined && typeof k.alg !== 'string') return '"alg" must be a string';
  const kid = typeof k.kid === 'string' ? k.kid : null;
  const jwkAlg = typeof k.alg === 'string' ? k.alg : null;
  let algs: JwsAlgorithm[];
  let jwk: Record<string, string>;
  let kty: JwkConfig['kty'];
  switch (k.kty) {
    case 'RSA': {
      if (b64urlBytes(k.n) < 0 || b64urlBytes(k.e) < 0) return 'RSA key needs base64url "n" and "e"';
      if (rsaModulusBytes(k.n as string) < MIN_RSA_MODULUS_BYTES) return 'RSA modulus shorter than 2048 bits';
      kty = 'RSA';
      algs = [...RSA_ALGS];
      jwk = { kty: 'RSA', n: k.n as string, e: k.e as string };
      break;
    }
    case 'EC': {
      const c = typeof k.crv === 'string' ? EC_ALG[k.crv] : undefined;
      if (c === undefined) return `EC curve ${JSON.stringify(k.crv)} ${NOT_SUPPORTED} (P-256, P-384, P-521)`;
      if (b64urlBytes(k.x) !== c.bytes || b64urlBytes(k.y) !== c.bytes) return `EC ${k.crv as string} key needs ${c.bytes}-byte base64url "x" and "y"`;
      kty = 'EC';
      algs = [c.alg];
      jwk = { kty: 'EC', crv: k.crv as string, x: k.x as string, y: k.y as string };
      break;
    }
    case 'OKP': {
      if (k.crv !== 'Ed25519') return `OKP curve ${JSON.stringify(k.crv)} ${NOT_SUPPORTED} (Ed25519)`;
      if (b64urlBytes(k.x) !== 32) return 'Ed25519 key needs a 32-byte base64url "x"';
      kty = 'OKP';
      algs = ['EdDSA'];
      jwk = { kty: 'OKP', crv: 'Ed25519', x: k.x as string };
      break;
    }
    case 'oct': {
      const n = b64urlBytes(k.k);
      if (n < 0) return 'oct key needs a base64url "k"';
      kty = 'oct';
      algs = HS_ALGS.filter((h) => n >= h.minBytes).map((h) => h.alg);
      if (algs.length === 0) return 'oct key shorter than 32 bytes (RFC 7518 §3.2)';
      jwk = { kty: 'oct', k: k.k as string };
      break;
    }
    default:
      return `kty ${JSON.stringify(k.kty)} ${NOT_SUPPORTED} (RSA, EC, OKP, oct)`;
  }
  if (jwkAlg !== null) {
    if (!algs.includes(jwkAlg as JwsAlgorithm)) return `alg ${jwkAlg} cannot be used with this ${kty} key`;
    algs = [jwkAlg as JwsAlgorithm];
  }
  return { kty, kid, algs, jwk };
}

/** The outcome of parsing a JWKS document: the usable keys and, per unusable key, why. */
export interface ParsedJwks {
  readonly keys: readonly JwkConfig[];
  readonly errors: readonly string[];
}

/** Parses a JWKS JSON document (RFC 7517 §5). `errors` holds a message per malformed/unsupported key, or one for the document. */
export function parseJwks(text: string): ParsedJwks {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return { keys: [], errors: [`invalid JSON: ${(e as Error).message}`] };
  }
  if (!isObj(doc) || !Array.isArray(doc.keys)) return { keys: [], errors: ['a JWKS needs a "keys" array'] };
  if (doc.keys.length > MAX_JWKS_KEYS) return { keys: [], errors: [`more than ${MAX_JWKS_KEYS} keys`] };
  const keys: JwkConfig[] = [];
  const errors: string[] = [];
  doc.keys.forEach((k: unknown, i: number) => {
    const r = parseJwk(k);
    if (typeof r === 'string') errors.push(`keys[${i}]: ${r}`);
    else if (r !== null) keys.push(r);
  });
  if (keys.length === 0 && errors.length === 0) errors.push('no key usable for signature verification');
  return { keys, errors };
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/** A header name the filter may write (forward_payload_header, claim_to_headers) or read a token from. */
function headerName(v: string, path: string, issues: Issues, writable: boolean): string {
  const h = v.toLowerCase();
  if (h === '') issues.add(path, 'required');
  else if (!HEADER_NAME.test(h)) issues.add(path, `invalid header name "${v}"`);
  else if (writable && h === 'host') issues.add(path, `header "${h}" cannot be modified`);
  return h;
}

function dataSourceJwks(ds: Obj, path: string, issues: Issues): readonly JwkConfig[] {
  onlyKnown(ds, path, ['inline_string'], [], issues);
  if (typeof ds.inline_string !== 'string') {
    if (!isSet(ds.filename) && !isSet(ds.inline_bytes) && !isSet(ds.environment_variable)) issues.add(join(path, 'inline_string'), 'required');
    return [];
  }
  const p = join(path, 'inline_string');
  const { keys, errors } = parseJwks(ds.inline_string);
  for (const e of errors) issues.add(p, e);
  return keys;
}

function remoteJwks(r: Obj, path: string, issues: Issues): JwksSourceConfig {
  onlyKnown(r, path, ['http_uri', 'cache_duration', 'async_fetch'], [], issues);
  const hp = join(path, 'http_uri');
  const h = obj(r, 'http_uri');
  let uri = '';
  let cluster = '';
  let timeoutMs = 0;
  if (!h) issues.add(hp, 'required');
  else {
    onlyKnown(h, hp, ['uri', 'cluster', 'timeout'], [], issues);
    uri = str(h, 'uri');
    let u: URL | null = null;
    try {
      u = new URL(uri);
    } catch {
      u = null;
    }
    if (uri === '') issues.add(join(hp, 'uri'), 'required');
    else if (u === null || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '') {
      issues.add(join(hp, 'uri'), `must be an absolute http or https URL, got "${uri}"`);
    } else if (u.username !== '' || u.password !== '') issues.add(join(hp, 'uri'), 'must not carry credentials');
    cluster = str(h, 'cluster');
    if (cluster === '') issues.add(join(hp, 'cluster'), 'required');
    if (!isObj(h.timeout)) issues.add(join(hp, 'timeout'), 'required');
    else timeoutMs = positiveDurationMs(h, 'timeout', 0, hp, issues);
  }
  let cacheDurationMs: number = JWT_DEFAULTS.cacheDurationMs;
  if (isObj(r.cache_duration)) {
    cacheDurationMs = positiveDurationMs(r, 'cache_duration', JWT_DEFAULTS.cacheDurationMs, path, issues);
  }
  const af = obj(r, 'async_fetch');
  let failedRefetchMs: number = JWT_DEFAULTS.failedRefetchMs;
  if (af) {
    const ap = join(path, 'async_fetch');
    onlyKnown(af, ap, ['failed_refetch_duration'], ['fast_listener'], issues);
    failedRefetchMs = positiveDurationMs(af, 'failed_refetch_duration', JWT_DEFAULTS.failedRefetchMs, ap, issues);
  }
  return { kind: 'remote', uri, cluster, timeoutMs, cacheDurationMs, asyncFetch: af !== null, failedRefetchMs };
}

const PROVIDER_KEYS = [
  'issuer', 'audiences', 'local_jwks', 'remote_jwks', 'forward', 'from_headers', 'from_params', 'from_cookies',
  'forward_payload_header', 'pad_forward_payload_header', 'payload_in_metadata', 'header_in_metadata',
  'clock_skew_seconds', 'jwt_cache_config', 'claim_to_headers', 'max_lifetime', 'require_expiration', 'clear_route_cache',
];

function provider(name: string, p: Obj, path: string, issues: Issues): JwtProviderConfig {
  // require_expiration is read as always true. subjects, normalize_payload_in_metadata and failed_status_in_metadata
  // are reported by onlyKnown.
  onlyKnown(p, path, PROVIDER_KEYS, [], issues);
  if (p.clear_route_cache === true) issues.add(join(path, 'clear_route_cache'), `${NOT_SUPPORTED} (routes are chosen before HTTP filters run)`);
  const local = obj(p, 'local_jwks');
  const remote = obj(p, 'remote_jwks');
  let jwks: JwksSourceConfig = { kind: 'local', keys: [] };
  if (local && remote) issues.add(join(path, 'remote_jwks'), 'cannot be combined with local_jwks');
  if (local) jwks = { kind: 'local', keys: dataSourceJwks(local, join(path, 'local_jwks'), issues) };
  else if (remote) jwks = remoteJwks(remote, join(path, 'remote_jwks'), issues);
  else issues.add(path, 'one of local_jwks, remote_jwks is required');

  const fromHeaders = list(p, 'from_headers').map((h, i) => {
    const hp = join(join(path, 'from_headers'), i);
    onlyKnown(h, hp, ['name', 'value_prefix'], [], issues);
    const valuePrefix = str(h, 'value_prefix');
    if (/[\r\n\0]/.test(valuePrefix)) issues.add(join(hp, 'value_prefix'), 'contains CR, LF or NUL');
    return { name: headerName(str(h, 'name'), join(hp, 'name'), issues, false), valuePrefix };
  });
  const fromParams = strList(p, 'from_params');
  fromParams.forEach((q, i) => {
    if (q === '') issues.add(join(join(path, 'from_params'), i), 'must not be empty');
  });
  const fromCookies = strList(p, 'from_cookies');
  fromCookies.forEach((c, i) => {
    if (c === '' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(c)) issues.add(join(join(path, 'from_cookies'), i), `invalid cookie name "${c}"`);
  });
  const fph = str(p, 'forward_payload_header');
  const forwardPayloadHeader = fph === '' ? null : headerName(fph, join(path, 'forward_payload_header'), issues, true);
  const claimToHeaders = list(p, 'claim_to_headers').map((c, i) => {
    const cp = join(join(path, 'claim_to_headers'), i);
    onlyKnown(c, cp, ['header_name', 'claim_name'], [], issues);
    const claim = str(c, 'claim_name');
    if (claim === '') issues.add(join(cp, 'claim_name'), 'required');
    else if (claim.split('.').some((s) => s === '')) issues.add(join(cp, 'claim_name'), `invalid claim path "${claim}"`);
    return { headerName: headerName(str(c, 'header_name'), join(cp, 'header_name'), issues, true), claimPath: claim.split('.') };
  });
  const skew = num(p, 'clock_skew_seconds');
  if (!Number.isInteger(skew) || skew < 0 || skew > 0xffff_ffff) issues.add(join(path, 'clock_skew_seconds'), `out of range: ${skew}`);
  const cache = obj(p, 'jwt_cache_config');
  let jwtCacheSize: number = JWT_DEFAULTS.jwtCacheSize;
  if (cache) {
    const cp = join(path, 'jwt_cache_config');
    onlyKnown(cache, cp, ['jwt_cache_size'], [], issues);
    const n = num(cache, 'jwt_cache_size');
    if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) issues.add(join(cp, 'jwt_cache_size'), `out of range: ${n}`);
    // Envoy: 0 means the default size.
    else if (n > 0) jwtCacheSize = n;
  }
  let maxLifetimeSeconds: number | null = null;
  if (isObj(p.max_lifetime)) {
    const ms = positiveDurationMs(p, 'max_lifetime', 0, path, issues);
    maxLifetimeSeconds = ms / 1000;
  }
  const meta = (key: string): string | null => {
    const v = str(p, key);
    return v === '' ? null : v;
  };
  return {
    name,
    issuer: str(p, 'issuer'),
    audiences: strList(p, 'audiences'),
    jwks,
    forward: bool(p, 'forward'),
    fromHeaders,
    fromParams,
    fromCookies,
    forwardPayloadHeader,
    padForwardPayloadHeader: bool(p, 'pad_forward_payload_header'),
    payloadInMetadata: meta('payload_in_metadata'),
    headerInMetadata: meta('header_in_metadata'),
    claimToHeaders,
    // Envoy: 0 means the default skew.
    clockSkewSeconds: skew > 0 ? skew : JWT_DEFAULTS.clockSkewSeconds,
    jwtCacheSize,
    maxLifetimeSeconds,
  };
}

/** Resolves one JwtRequirement; `siblings` are the provider names of an enclosing requires_any (Envoy's allow_missing scope). */
function requirement(
  r: Obj,
  path: string,
  issues: Issues,
  providerNames: readonly string[],
  siblings: readonly string[] | null,
  depth: number,
): JwtRequirementConfig {
  const kinds = ['provider_name', 'provider_and_audiences', 'requires_any', 'requires_all', 'allow_missing_or_failed', 'allow_missing'];
  onlyKnown(r, path, kinds, [], issues);
  if (depth > 8) {
    issues.add(path, 'requirements nested deeper than 8 levels');
    return { kind: 'none' };
  }
  const known = (name: string, p: string): string => {
    if (name === '') issues.add(p, 'required');
    else if (!providerNames.includes(name)) issues.add(p, `provider "${name}" is not configured`);
    return name;
  };
  if (typeof r.provider_name === 'string') {
    return { kind: 'provider', provider: known(r.provider_name, join(path, 'provider_name')), audiences: null };
  }
  const pa = obj(r, 'provider_and_audiences');
  if (pa) {
    const pp = join(path, 'provider_and_audiences');
    onlyKnown(pa, pp, ['provider_name', 'audiences'], [], issues);
    return { kind: 'provider', provider: known(str(pa, 'provider_name'), join(pp, 'provider_name')), audiences: strList(pa, 'audiences') };
  }
  const any = obj(r, 'requires_any');
  const all = obj(r, 'requires_all');
  if (any || all) {
    const key = any ? 'requires_any' : 'requires_all';
    const lp = join(path, key);
    const l = (any ?? all)!;
    onlyKnown(l, lp, ['requirements'], [], issues);
    const reqs = list(l, 'requirements');
    if (reqs.length < 2) issues.add(join(lp, 'requirements'), 'at least 2 requirements are required');
    // Envoy: an allow_missing(_or_failed) inside requires_any checks the tokens of the sibling providers.
    const named = any
      ? reqs
          .map((x) => (typeof x.provider_name === 'string' ? x.provider_name : isObj(x.provider_and_audiences) ? str(x.provider_and_audiences, 'provider_name') : ''))
          .filter((n) => n !== '')
      : null;
    const children = reqs.map((x, i) => requirement(x, join(join(lp, 'requirements'), i), issues, providerNames, named, depth + 1));
    return { kind: any ? 'any' : 'all', requirements: children };
  }
  const scope = siblings !== null && siblings.length > 0 ? [...new Set(siblings)] : [...providerNames];
  if (r.allow_missing_or_failed !== undefined && r.allow_missing_or_failed !== null) return { kind: 'allow_missing_or_failed', providers: scope };
  if (r.allow_missing !== undefined && r.allow_missing !== null) return { kind: 'allow_missing', providers: scope };
  return { kind: 'none' };
}

/** Validates the typed_config body of envoy.filters.http.jwt_authn (the decoded Any without `@type`). */
export function validateJwtAuthnConfig(body: Obj, path: string, issues: Issues): JwtAuthnConfig {
  // stat_prefix is not a JwtAuthentication field; it is tolerated (stats use the HCM's prefix).
  onlyKnown(body, path, ['providers', 'rules', 'requirement_map', 'bypass_cors_preflight', 'strip_failure_response'], ['stat_prefix'], issues);
  const pm = obj(body, 'providers') ?? {};
  const names = Object.keys(pm).sort();
  const providers: JwtProviderConfig[] = [];
  for (const name of names) {
    const pp = join(join(path, 'providers'), name);
    const p = pm[name];
    if (name === '') issues.add(pp, 'provider name must not be empty');
    if (!isObj(p)) {
      issues.add(pp, 'must be a JwtProvider');
      continue;
    }
    providers.push(provider(name, p, pp, issues));
  }
  const rm = obj(body, 'requirement_map') ?? {};
  const requirementMap = new Map<string, JwtRequirementConfig>();
  for (const name of Object.keys(rm).sort()) {
    const r = rm[name];
    const rp = join(join(path, 'requirement_map'), name);
    if (!isObj(r)) {
      issues.add(rp, 'must be a JwtRequirement');
      continue;
    }
    requirementMap.set(name, requirement(r, rp, issues, names, null, 0));
  }
  const rules = list(body, 'rules').map((r, i): JwtRuleConfig => {
    const rp = join(join(path, 'rules'), i);
    onlyKnown(r, rp, ['match', 'requires', 'requirement_name'], [], issues);
    const m = obj(r, 'match');
    if (!m) issues.add(join(rp, 'match'), 'required');
    const match = routeMatch(m ?? { prefix: '/' }, join(rp, 'match'), issues);
    const req = obj(r, 'requires');
    let resolved: JwtRequirementConfig = { kind: 'none' };
    if (req) {
      if (typeof r.requirement_name === 'string') issues.add(join(rp, 'requirement_name'), 'cannot be combined with requires');
      resolved = requirement(req, join(rp, 'requires'), issues, names, null, 0);
    } else if (typeof r.requirement_name === 'string') {
      const named = requirementMap.get(r.requirement_name);
      if (r.requirement_name === '') issues.add(join(rp, 'requirement_name'), 'must not be empty');
      else if (named === undefined) issues.add(join(rp, 'requirement_name'), `"${r.requirement_name}" is not in requirement_map`);
      else resolved = named;
    }
    return { match, requirement: resolved };
  });
  return deepFreeze({
    providers,
    rules,
    bypassCorsPreflight: bool(body, 'bypass_cors_preflight'),
    stripFailureResponse: bool(body, 'strip_failure_response'),
  });
}

registerHttpFilterConfig(TypeUrl.JwtAuthn, validateJwtAuthnConfig);
