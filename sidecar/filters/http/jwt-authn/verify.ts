// JWT checks per RFC 7515/7519 and the RFC 8725 best practices: compact-JWS parsing, header rules, claim checks,
// and the signature check itself (jose over WebCrypto, which already runs on libuv's thread pool).
//
// Measured by test/bench/micro/jwt-verify.ts (node 20.20, 2 CPUs, libuv pool 4, five runs):
//   cache miss, inline jose, 100 in flight: RS256 41k-46k verifications/s, ES256 20k-22k verifications/s
//   (about 30% lower while other processes loaded the host)
//   verified-token cache hit (lookup + time/audience re-check): ~100-110 ns (9-10 M/s) for both
//   whole filter on a cache hit (rule match, extraction, claim header, token removal): RS256 ~1.6 us, ES256 ~1.2 us
// So signature work stays inline (no worker pool): one piscina task per token reached only 9k-12k/s (DEPENDENCIES.md).
import { jose } from './jose.js';
import type { JwsAlgorithm } from '../../../../src/xds/resources/filters/jwt-authn.js';
import type { JwkEntry } from './jwks.js';

/** Longest token accepted (bytes of the compact serialization): far above real JWTs, small enough to bound parsing. */
export const MAX_TOKEN_BYTES = 8192;

/** Every algorithm Tessera verifies; which of them a given key may verify is decided per key (JwkConfig.algs). */
const ALLOWED_ALGS: ReadonlySet<string> = new Set<JwsAlgorithm>([
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'HS256', 'HS384', 'HS512',
]);

/** Three non-empty base64url segments: a compact JWS (a JWE has five; an unsecured JWS has an empty signature). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** A token whose form, header and claims passed the checks that need no key; after verifySignature, a verified JWT. */
export interface ParsedJwt {
  readonly token: string;
  readonly alg: JwsAlgorithm;
  readonly kid: string | null;
  /** The JOSE header, frozen (header_in_metadata). */
  readonly header: Readonly<Record<string, unknown>>;
  /** The claims, frozen (payload_in_metadata, claim_to_headers). */
  readonly payload: Readonly<Record<string, unknown>>;
  /** The payload segment as sent (forward_payload_header). */
  readonly payloadB64: string;
  readonly exp: number;
  readonly nbf: number | null;
  readonly iat: number | null;
  readonly iss: string | null;
  /** `aud` as a list, normalized (normalizeAudience); null when absent. */
  readonly aud: readonly string[] | null;
}

/** A ParsedJwt whose signature verified against one of its provider's keys. */
export type VerifiedJwt = ParsedJwt;

function freeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v as Record<string, unknown>)) freeze(x);
  }
  return v;
}

function decodeJsonObject(segment: string): Record<string, unknown> | null {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

function optionalNumber(v: unknown): number | null | undefined {
  if (v === undefined) return null;
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * Envoy's audience comparison (jwt_verify_lib CheckAudience): an `http://` or `https://` prefix and one trailing
 * slash are ignored on both sides.
 */
export function normalizeAudience(a: string): string {
  let s = a;
  if (s.startsWith('https://')) s = s.slice(8);
  else if (s.startsWith('http://')) s = s.slice(7);
  if (s.endsWith('/')) s = s.slice(0, -1);
  return s;
}

/**
 * Parses a compact JWS carrying a JWT claims set and applies every check that needs no key. Returns the parsed token or
 * why it was refused. Header rules (RFC 8725 §3.1, §3.10): `alg` from the allow-list (never `none`); `crit` present →
 * refused (Tessera understands no extension); `b64` other than true → refused; `kid` must be a string;
 * `jku`, `x5u`, `jwk`, `x5c` are ignored (keys come only from the provider's JWKS). Claims: `exp` is required,
 * `nbf`/`iat` must be numbers when present, `iss` a string, `aud` a string or list of strings.
 */
export function parseJwt(token: string): ParsedJwt | string {
  if (token.length > MAX_TOKEN_BYTES) return `token longer than ${MAX_TOKEN_BYTES} bytes`;
  if (!COMPACT_JWS.test(token)) return 'not a compact JWS (three non-empty base64url parts)';
  const d1 = token.indexOf('.');
  const d2 = token.indexOf('.', d1 + 1);
  const h = token.slice(0, d1);
  const p = token.slice(d1 + 1, d2);
  const s = token.slice(d2 + 1);
  if (h.length % 4 === 1 || p.length % 4 === 1 || s.length % 4 === 1) return 'invalid base64url';
  const header = decodeJsonObject(h);
  if (header === null) return 'header is not a JSON object';
  const alg = header.alg;
  if (typeof alg !== 'string') return 'alg missing';
  if (!ALLOWED_ALGS.has(alg)) return `alg ${alg} not allowed`;
  if (header.crit !== undefined) return 'crit header parameter present';
  if (header.b64 !== undefined && header.b64 !== true) return 'b64 header parameter present';
  const kid = header.kid;
  if (kid !== undefined && typeof kid !== 'string') return 'kid is not a string';
  const payload = decodeJsonObject(p);
  if (payload === null) return 'payload is not a JSON object';
  const exp = payload.exp;
  if (exp === undefined) return 'exp missing';
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return 'exp is not a number';
  const nbf = optionalNumber(payload.nbf);
  if (nbf === undefined) return 'nbf is not a number';
  const iat = optionalNumber(payload.iat);
  if (iat === undefined) return 'iat is not a number';
  const iss = payload.iss;
  if (iss !== undefined && typeof iss !== 'string') return 'iss is not a string';
  let aud: string[] | null = null;
  const a = payload.aud;
  if (typeof a === 'string') aud = [normalizeAudience(a)];
  else if (Array.isArray(a)) {
    aud = [];
    for (const x of a) {
      if (typeof x !== 'string') return 'aud is not a string or a list of strings';
      aud.push(normalizeAudience(x));
    }
  } else if (a !== undefined) return 'aud is not a string or a list of strings';
  return freeze({
    token,
    alg: alg as JwsAlgorithm,
    kid: typeof kid === 'string' ? kid : null,
    header,
    payload,
    payloadB64: p,
    exp,
    nbf,
    iat,
    iss: typeof iss === 'string' ? iss : null,
    aud,
  });
}

/** Time checks with clock skew (RFC 7519 §4.1.4-6): expired, not yet valid, issued in the future, too long-lived. */
export function checkTime(jwt: ParsedJwt, nowSeconds: number, skewSeconds: number, maxLifetimeSeconds: number | null): string | null {
  if (nowSeconds > jwt.exp + skewSeconds) return 'expired';
  if (jwt.nbf !== null && nowSeconds < jwt.nbf - skewSeconds) return 'not yet valid';
  if (jwt.iat !== null && jwt.iat > nowSeconds + skewSeconds) return 'issued in the future';
  if (maxLifetimeSeconds !== null && jwt.exp - nowSeconds > maxLifetimeSeconds) return 'lifetime longer than max_lifetime';
  return null;
}

/** `aud` must name one of `allowed` (already normalized); an empty `allowed` accepts any token. */
export function audienceAllowed(jwt: ParsedJwt, allowed: ReadonlySet<string>): boolean {
  if (allowed.size === 0) return true;
  const aud = jwt.aud;
  if (aud === null) return false;
  for (let i = 0; i < aud.length; i++) if (allowed.has(aud[i]!)) return true;
  return false;
}

/**
 * The signature check with one key. The key was chosen for this `alg` (JwkEntry.algs), so an HS256 token never meets
 * an RSA/EC key; jose is still told to accept only this one algorithm.
 */
export async function verifyWithKey(jwt: ParsedJwt, key: JwkEntry): Promise<boolean> {
  const k = await key.importFor(jwt.alg);
  if (k === null) return false;
  try {
    await (await jose()).compactVerify(jwt.token, k, { algorithms: [jwt.alg] });
    return true;
  } catch {
    return false;
  }
}
