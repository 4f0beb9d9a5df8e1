// envoy.filters.http.jwt_authn per stream: pick the first matching rule, check its requirement's tokens (cached ones
// synchronously, new ones through jose), then either forward (claims to headers/metadata, token removed) or answer 401.
// Every failure is 401 — an audience mismatch too, where Envoy answers 403 — with Envoy's bodies ("Jwt is missing",
// "Jwt verification fails", "Jwks remote fetch is failed") and www-authenticate. As in Envoy, a verified token is
// removed from its header only (query parameters and cookies keep theirs).
import { targetPath, targetQuery } from '../../../http/request-target.js';
import type { Counter, StatsStore } from '../../../../src/observability/stats.js';
import type { JwtAuthnConfig } from '../../../../src/xds/resources/filters/jwt-authn.js';
import { FilterStatus, type DecoderFilterCallbacks, type HttpFilter } from '../../../http/filter.js';
import { HeaderMap } from '../../../http/header-map.js';
import { configuredReply, type LocalReply } from '../../../http/local-reply.js';
import { TokenLocations } from './extractor.js';
import type { JwksFetcher } from './jwks.js';
import { JwtStatus, ProviderRuntime, type ProviderStats } from './provider.js';
import { CompiledRule, type CheckDone, type CompiledRequirement, type ProviderEntry, type TokenCheck } from './requirement.js';
import type { VerifiedJwt } from './verify.js';

/** The dynamic-metadata namespace verified payloads/headers go to (RBAC reads it). */
export const JWT_AUTHN_NAMESPACE = 'envoy.filters.http.jwt_authn';

/** Envoy's jwt_authn stats, `http.<stat_prefix>.jwt_authn.<name>`. */
export interface JwtAuthnStats extends ProviderStats {
  readonly allowed: Counter;
  readonly denied: Counter;
  readonly cors_preflight_bypassed: Counter;
}

/** Test and benchmark seams: the clock (ms since the epoch) and the JWKS fetcher. */
export interface JwtAuthnOptions {
  readonly now?: () => number;
  readonly fetcher?: JwksFetcher;
}

/** Envoy builds the realm from at most this many bytes of the path. */
const MAX_REALM_PATH = 256;

/**
 * A realm-safe rendering of scheme://authority/path: the query and fragment are dropped, the path cut to 256
 * characters, and characters that could end the quoted-string or the header (", \, controls, non-ASCII) are
 * percent-encoded.
 */
export function realmOf(scheme: string, authority: string, path: string): string {
  let end = path.length;
  const q = path.indexOf('?');
  if (q !== -1) end = q;
  const h = path.indexOf('#');
  if (h !== -1 && h < end) end = h;
  const raw = `${scheme}://${authority}${path.slice(0, Math.min(end, MAX_REALM_PATH))}`;
  return /^[\x21\x23-\x5b\x5d-\x7e]*$/.test(raw) ? raw : raw.replace(/[^\x21\x23-\x5b\x5d-\x7e]/g, (c) => encodeURIComponent(c).replace(/"/g, '%22'));
}

/**
 * A claim as a header value (Envoy's addJWTClaimToHeader): strings as they are, booleans as true/false, non-negative
 * integers in decimal, other numbers with six decimals (std::to_string); objects, arrays, null and any value holding
 * control characters are skipped (null).
 */
export function claimHeaderValue(payload: Readonly<Record<string, unknown>>, path: readonly string[]): string | null {
  let v: unknown = payload;
  for (let i = 0; i < path.length; i++) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
    v = (v as Record<string, unknown>)[path[i]!];
  }
  let s: string;
  if (typeof v === 'string') s = v;
  else if (typeof v === 'boolean') s = v ? 'true' : 'false';
  else if (typeof v === 'number' && Number.isFinite(v)) {
    if (Number.isInteger(v) && v >= 0 && v < 2 ** 64) s = v <= Number.MAX_SAFE_INTEGER ? String(v) : BigInt(v).toString();
    else s = v.toFixed(6);
  } else return null;
  if (s === '' || /[\x00-\x08\x0a-\x1f\x7f]/.test(s)) return null;
  return s;
}

/** Per-filter-chain jwt_authn state built once from the validated config: providers, compiled rules, stats, replies. */
export class JwtAuthnShared {
  readonly stats: JwtAuthnStats;
  readonly providers: ReadonlyMap<string, ProviderEntry>;
  readonly rules: readonly CompiledRule[];
  readonly bypassCorsPreflight: boolean;
  readonly stripFailureResponse: boolean;
  readonly missingReply: LocalReply;
  readonly invalidReply: LocalReply;
  readonly jwksUnavailableReply: LocalReply;

  constructor(config: JwtAuthnConfig, stats: StatsStore, statPrefix: string, opts: JwtAuthnOptions = {}) {
    const scope = `http.${statPrefix}.jwt_authn.`;
    this.stats = Object.freeze({
      allowed: stats.counter(`${scope}allowed`),
      denied: stats.counter(`${scope}denied`),
      cors_preflight_bypassed: stats.counter(`${scope}cors_preflight_bypassed`),
      jwks_fetch_success: stats.counter(`${scope}jwks_fetch_success`),
      jwks_fetch_failed: stats.counter(`${scope}jwks_fetch_failed`),
      jwt_cache_hit: stats.counter(`${scope}jwt_cache_hit`),
      jwt_cache_miss: stats.counter(`${scope}jwt_cache_miss`),
    });
    const now = opts.now ?? Date.now;
    const providers = new Map<string, ProviderEntry>();
    for (const p of config.providers) {
      const runtime = new ProviderRuntime(p, this.stats, now, opts.fetcher ?? null);
      providers.set(p.name, Object.freeze({ runtime, locations: new TokenLocations(p) }));
      // async_fetch: fetch when the filter chain is built, not on the first request.
      if (p.jwks.kind === 'remote' && p.jwks.asyncFetch) void runtime.keys.load();
    }
    this.providers = providers;
    this.rules = config.rules.map((r) => new CompiledRule(r, providers));
    this.bypassCorsPreflight = config.bypassCorsPreflight;
    this.stripFailureResponse = config.stripFailureResponse;
    const strip = config.stripFailureResponse;
    this.missingReply = configuredReply('TESSERA_ERR_JWT_MISSING', 401, strip ? '' : 'Jwt is missing', '');
    this.invalidReply = configuredReply('TESSERA_ERR_JWT_INVALID', 401, strip ? '' : 'Jwt verification fails', '');
    this.jwksUnavailableReply = configuredReply('TESSERA_ERR_JWKS_UNAVAILABLE', 401, strip ? '' : 'Jwks remote fetch is failed', '');
  }

  /** The requirement of the first rule matching the request; null when none matches (nothing is verified). */
  requirementFor(headers: HeaderMap, cb: DecoderFilterCallbacks): CompiledRequirement | null {
    const rules = this.rules;
    if (rules.length === 0) return null;
    const path = targetPath(cb.path);
    const query = targetQuery(cb.path);
    for (let i = 0; i < rules.length; i++) if (rules[i]!.matches(path, query, headers, cb)) return rules[i]!.requirement;
    return null;
  }
}

const S_IDLE = 0;
const S_WAITING = 1;
const S_DONE = 2;

/** A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method) carries no credentials. */
function isCorsPreflight(method: string, headers: HeaderMap): boolean {
  if (method !== 'OPTIONS') return false;
  const origin = headers.get('origin');
  const acrm = headers.get('access-control-request-method');
  return origin !== undefined && origin !== '' && acrm !== undefined && acrm !== '';
}

/** One stream's JWT decision: owns its token checks and holds the request while signatures are checked. */
export class JwtAuthnFilter implements HttpFilter, CheckDone {
  readonly #shared: JwtAuthnShared;
  readonly #cb: DecoderFilterCallbacks;
  #state: number;
  #headers: HeaderMap | null;
  #requirement: CompiledRequirement | null;
  #checks: TokenCheck[][] | null;

  constructor(shared: JwtAuthnShared, cb: DecoderFilterCallbacks) {
    this.#shared = shared;
    this.#cb = cb;
    this.#state = S_IDLE;
    this.#headers = null;
    this.#requirement = null;
    this.#checks = null;
  }

  // HttpFilter

  onRequestHeaders(headers: HeaderMap, _endStream: boolean): FilterStatus {
    const s = this.#shared;
    const cb = this.#cb;
    if (s.bypassCorsPreflight && isCorsPreflight(cb.method, headers)) {
      s.stats.cors_preflight_bypassed.inc();
      s.stats.allowed.inc();
      return FilterStatus.Continue;
    }
    const req = s.requirementFor(headers, cb);
    if (req === null || req.none) {
      s.stats.allowed.inc();
      return FilterStatus.Continue;
    }
    // Headers this filter writes must not arrive from the client (Envoy's sanitizePayloadHeaders).
    const sanitize = req.sanitize;
    for (let i = 0; i < sanitize.length; i++) headers.remove(sanitize[i]!);
    const checks = req.collect(headers, cb.path);
    this.#headers = headers;
    this.#requirement = req;
    this.#checks = checks;
    const status = req.evaluate(checks);
    if (status !== JwtStatus.Pending) return this.#finish(status, false) ? FilterStatus.Continue : FilterStatus.StopIteration;
    this.#state = S_WAITING;
    for (let i = 0; i < checks.length; i++) {
      const leaf = checks[i]!;
      for (let j = 0; j < leaf.length; j++) {
        const c = leaf[j]!;
        if (c.status === JwtStatus.Pending) void c.run(this);
      }
    }
    return FilterStatus.StopIteration;
  }

  onRequestData(_chunk: Buffer, _endStream: boolean): FilterStatus {
    return this.#state === S_WAITING ? FilterStatus.StopIteration : FilterStatus.Continue;
  }

  onRequestTrailers(_trailers: HeaderMap): FilterStatus {
    return this.#state === S_WAITING ? FilterStatus.StopIteration : FilterStatus.Continue;
  }

  onResponseHeaders(_headers: HeaderMap, _endStream: boolean): FilterStatus {
    return FilterStatus.Continue;
  }

  onDownstreamDrain(): void {}

  onDestroy(): void {
    this.#state = S_DONE;
    this.#headers = null;
    this.#checks = null;
  }

  // CheckDone (TokenCheck.run)

  /** A signature check ended: finish once the requirement's outcome no longer depends on a running check. */
  checkDone(): void {
    if (this.#state !== S_WAITING) return;
    const status = this.#requirement!.evaluate(this.#checks!);
    if (status === JwtStatus.Pending) return;
    this.#finish(status, true);
  }

  // internals

  /** Applies the outcome; true when the request goes on. `resume`: the stream is held and must be continued. */
  #finish(status: JwtStatus, resume: boolean): boolean {
    this.#state = S_DONE;
    const s = this.#shared;
    const cb = this.#cb;
    const headers = this.#headers!;
    const checks = this.#checks!;
    this.#headers = null;
    this.#checks = null;
    if (status === JwtStatus.Ok) {
      for (let i = 0; i < checks.length; i++) {
        const leaf = checks[i]!;
        for (let j = 0; j < leaf.length; j++) {
          const c = leaf[j]!;
          if (c.status === JwtStatus.Ok) this.#applyVerified(c, c.jwt!, headers);
        }
      }
      s.stats.allowed.inc();
      if (resume) cb.continueDecoding();
      return true;
    }
    s.stats.denied.inc();
    const reply = status === JwtStatus.Missing ? s.missingReply : status === JwtStatus.JwksUnavailable ? s.jwksUnavailableReply : s.invalidReply;
    let h: HeaderMap | null = null;
    if (!s.stripFailureResponse) {
      h = new HeaderMap();
      const xfp = headers.get('x-forwarded-proto');
      const scheme = xfp === 'http' || xfp === 'https' ? xfp : cb.connection.secure ? 'https' : 'http';
      const realm = realmOf(scheme, cb.authority, cb.path);
      h.add('www-authenticate', status === JwtStatus.Missing ? `Bearer realm="${realm}"` : `Bearer realm="${realm}", error="invalid_token"`);
    }
    cb.sendLocalReply(reply, h);
    return false;
  }

  /** A verified token's outputs: payload header, claim headers, metadata, and the token removed unless forwarded. */
  #applyVerified(c: TokenCheck, jwt: VerifiedJwt, headers: HeaderMap): void {
    const p = c.provider.config;
    if (p.forwardPayloadHeader !== null) {
      let v = jwt.payloadB64;
      if (p.padForwardPayloadHeader && v.length % 4 !== 0) v += '='.repeat(4 - (v.length % 4));
      headers.add(p.forwardPayloadHeader, v);
    }
    const claims = p.claimToHeaders;
    for (let i = 0; i < claims.length; i++) {
      const v = claimHeaderValue(jwt.payload, claims[i]!.claimPath);
      if (v !== null) headers.add(claims[i]!.headerName, v);
    }
    if (p.payloadInMetadata !== null) this.#cb.setDynamicMetadata(JWT_AUTHN_NAMESPACE, p.payloadInMetadata, jwt.payload);
    if (p.headerInMetadata !== null) this.#cb.setDynamicMetadata(JWT_AUTHN_NAMESPACE, p.headerInMetadata, jwt.header);
    // Envoy removes a verified token from its header only (query parameters and cookies keep theirs).
    if (!p.forward && c.header !== null) headers.remove(c.header);
  }
}
