// One JWT provider at run time: its keys, its verified-token cache and the checks a token goes through.
import type { JwtProviderConfig } from '../../../../src/xds/resources/filters/jwt-authn.js';
import type { Counter } from '../../../../src/observability/stats.js';
import { LocalKeySource, RemoteKeySource, type JwksFetcher, type JwksFetchStats, type KeySet, type KeySource } from './jwks.js';
import { TokenCache } from './token-cache.js';
import { audienceAllowed, checkTime, normalizeAudience, parseJwt, verifyWithKey, type ParsedJwt, type VerifiedJwt } from './verify.js';

/** Outcome of a token check (and of a requirement): numbers so the hot path compares small ints. */
export const JwtStatus = {
  Ok: 0,
  /** No token where one is required. */
  Missing: 1,
  /** A token failed a check (form, header, claims, issuer, audience, signature, no matching key). */
  Invalid: 2,
  /** The provider has no keys: the JWKS could not be fetched and no stale set exists. */
  JwksUnavailable: 3,
  /** The signature check is still running. */
  Pending: 4,
} as const;
export type JwtStatus = (typeof JwtStatus)[keyof typeof JwtStatus];

/** Stat handles a provider bumps (resolved once per filter chain). */
export interface ProviderStats extends JwksFetchStats {
  readonly jwt_cache_hit: Counter;
  readonly jwt_cache_miss: Counter;
}

/** Normalized audiences (normalizeAudience) a token's `aud` must meet; empty = not checked. */
export function audienceSet(audiences: readonly string[]): ReadonlySet<string> {
  return new Set(audiences.map(normalizeAudience));
}

/** Owns one provider's key source and verified-token cache; checks tokens against the provider's rules. */
export class ProviderRuntime {
  readonly config: JwtProviderConfig;
  readonly name: string;
  readonly keys: KeySource;
  readonly cache: TokenCache;
  /** The provider's own audiences (provider_and_audiences replaces them per requirement). */
  readonly audiences: ReadonlySet<string>;
  readonly #stats: ProviderStats;
  readonly #now: () => number;

  constructor(config: JwtProviderConfig, stats: ProviderStats, now: () => number, fetcher: JwksFetcher | null) {
    this.config = config;
    this.name = config.name;
    this.#stats = stats;
    this.#now = now;
    const j = config.jwks;
    this.keys = j.kind === 'local' ? new LocalKeySource(j.keys) : new RemoteKeySource(j, stats, now, fetcher ?? undefined);
    this.cache = new TokenCache(config.jwtCacheSize, config.clockSkewSeconds);
    this.audiences = audienceSet(config.audiences);
  }

  /**
   * The verified-token cache: null on a miss; on a hit, the token again if time and audience still pass (no signature
   * work), else Invalid.
   */
  cached(token: string, audiences: ReadonlySet<string>): VerifiedJwt | JwtStatus | null {
    const c = this.config;
    const nowSeconds = this.#now() / 1000;
    const hit = this.cache.get(token, nowSeconds);
    if (hit === null) {
      this.#stats.jwt_cache_miss.inc();
      return null;
    }
    this.#stats.jwt_cache_hit.inc();
    if (checkTime(hit, nowSeconds, c.clockSkewSeconds, c.maxLifetimeSeconds) !== null) return JwtStatus.Invalid;
    return audienceAllowed(hit, audiences) ? hit : JwtStatus.Invalid;
  }

  /** Everything a new token goes through before its signature: form, header, claims, issuer, audience. */
  precheck(token: string, audiences: ReadonlySet<string>): ParsedJwt | JwtStatus {
    const parsed = parseJwt(token);
    if (typeof parsed === 'string') return JwtStatus.Invalid;
    return this.checkClaims(parsed, audiences, this.#now() / 1000) === null ? parsed : JwtStatus.Invalid;
  }

  /** Issuer, time and audience checks of a parsed token; the reason it fails, or null. */
  checkClaims(jwt: ParsedJwt, audiences: ReadonlySet<string>, nowSeconds: number): string | null {
    const c = this.config;
    if (c.issuer !== '' && jwt.iss !== c.issuer) return 'issuer not allowed';
    const t = checkTime(jwt, nowSeconds, c.clockSkewSeconds, c.maxLifetimeSeconds);
    if (t !== null) return t;
    return audienceAllowed(jwt, audiences) ? null : 'audience not allowed';
  }

  /**
   * The signature check: keys from the cache (or a fetch), one refetch when the token names a kid the set lacks,
   * then each candidate key in turn. A verified token enters the cache.
   */
  async verify(jwt: ParsedJwt): Promise<VerifiedJwt | JwtStatus> {
    let keys: KeySet | null = this.keys.current();
    if (keys === null) keys = await this.keys.load();
    if (keys === null) return JwtStatus.JwksUnavailable;
    if (jwt.kid !== null && !keys.hasKid(jwt.kid)) {
      const refetch = this.keys.refetchForUnknownKid();
      if (refetch !== null) keys = (await refetch) ?? keys;
    }
    const candidates = keys.candidates(jwt.alg, jwt.kid);
    for (let i = 0; i < candidates.length; i++) {
      if (await verifyWithKey(jwt, candidates[i]!)) {
        this.cache.set(jwt.token, jwt);
        return jwt;
      }
    }
    return JwtStatus.Invalid;
  }
}
