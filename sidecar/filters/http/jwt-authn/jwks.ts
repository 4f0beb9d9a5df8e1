// A provider's verification keys: imported JWKs, the key set, and where it comes from (inline, or fetched over HTTP(S)
// with caching, a shared in-flight fetch, stale keys when the endpoint is down and a bounded refetch on unknown kid).
import http from 'node:http';
import https from 'node:https';
import type { CryptoKey } from 'jose';
import { jose } from './jose.js';
import { parseJwks, type JwkConfig, type JwksSourceConfig, type JwsAlgorithm } from '../../../../src/xds/resources/filters/jwt-authn.js';
import type { Counter } from '../../../../src/observability/stats.js';

/** A token without `kid` is tried against at most this many keys that allow its alg (bounds the work one token costs). */
export const MAX_KEYS_TRIED = 10;
/** A token naming a kid the cached set lacks triggers a refetch at most once per this period (per provider). */
export const KID_REFETCH_COOLDOWN_MS = 30_000;
/** A fetched JWKS document larger than this is refused. */
export const MAX_JWKS_BYTES = 1024 * 1024;

/** One verification key: its identity, the algorithms it may verify, and its imported forms (one per alg, made once). */
export class JwkEntry {
  readonly kid: string | null;
  readonly kty: JwkConfig['kty'];
  readonly algs: ReadonlySet<JwsAlgorithm>;
  readonly #jwk: Readonly<Record<string, string>>;
  readonly #imported: Map<string, Promise<CryptoKey | Uint8Array | null>>;

  constructor(cfg: JwkConfig) {
    this.kid = cfg.kid;
    this.kty = cfg.kty;
    this.algs = new Set(cfg.algs);
    this.#jwk = cfg.jwk;
    this.#imported = new Map();
  }

  /** The key imported for `alg` (WebCrypto binds a key to one algorithm); null when it cannot be. */
  importFor(alg: JwsAlgorithm): Promise<CryptoKey | Uint8Array | null> {
    let p = this.#imported.get(alg);
    if (p === undefined) {
      p = this.algs.has(alg) ? jose().then((j) => j.importJWK({ ...this.#jwk }, alg)).catch(() => null) : Promise.resolve(null);
      this.#imported.set(alg, p);
    }
    return p;
  }
}

/** An immutable set of verification keys (one JWKS document). */
export class KeySet {
  readonly keys: readonly JwkEntry[];
  readonly #kids: ReadonlySet<string>;

  constructor(keys: readonly JwkConfig[]) {
    this.keys = keys.map((k) => new JwkEntry(k));
    this.#kids = new Set(keys.flatMap((k) => (k.kid === null ? [] : [k.kid])));
  }

  hasKid(kid: string): boolean {
    return this.#kids.has(kid);
  }

  /**
   * The keys a token may be checked against: those whose allowed algorithms include `alg` and, when the token has a
   * `kid`, whose kid equals it exactly (a kid never does anything but select among these keys).
   */
  candidates(alg: JwsAlgorithm, kid: string | null): JwkEntry[] {
    const out: JwkEntry[] = [];
    const keys = this.keys;
    for (let i = 0; i < keys.length && out.length < MAX_KEYS_TRIED; i++) {
      const k = keys[i]!;
      if (!k.algs.has(alg)) continue;
      if (kid !== null && k.kid !== kid) continue;
      out.push(k);
    }
    return out;
  }
}

/** Where a provider's keys come from. */
export interface KeySource {
  /** Keys usable now without waiting (fresh, or stale while a refresh runs / after a failed fetch); null = await load(). */
  current(): KeySet | null;
  /** Fetches unless a fetch failed within the back-off; resolves to fresh keys, stale keys, or null (none at all). */
  load(): Promise<KeySet | null>;
  /** The set lacks a token's kid: a refetch (at most one per cooldown), or null when none is allowed now. */
  refetchForUnknownKid(): Promise<KeySet | null> | null;
}

/** local_jwks: a fixed key set. */
export class LocalKeySource implements KeySource {
  readonly #keys: KeySet;
  readonly #loaded: Promise<KeySet | null>;

  constructor(keys: readonly JwkConfig[]) {
    this.#keys = new KeySet(keys);
    this.#loaded = Promise.resolve(this.#keys);
  }

  current(): KeySet {
    return this.#keys;
  }

  load(): Promise<KeySet | null> {
    return this.#loaded;
  }

  refetchForUnknownKid(): null {
    return null;
  }
}

/** Reads a URL's body as text: GET, 200 only, bounded size and time. Rejects on anything else. */
export type JwksFetcher = (uri: string, timeoutMs: number) => Promise<string>;

/** GETs `uri` with node:http / node:https, dialling its host directly (there is no cluster manager in a filter). */
export const httpGetText: JwksFetcher = (uri, timeoutMs) =>
  new Promise((resolve, reject) => {
    const u = new URL(uri);
    const mod = u.protocol === 'https:' ? https : http;
    // agent: false — fetches are rare (cache_duration, cooldowns), so no pooled socket outlives one.
    const req = mod.get(u, { agent: false, timeout: timeoutMs, headers: { accept: 'application/json' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`JWKS ${uri}: HTTP ${res.statusCode}`));
        return;
      }
      const chunks: Buffer[] = [];
      let n = 0;
      res.on('data', (c: Buffer) => {
        n += c.length;
        if (n > MAX_JWKS_BYTES) {
          req.destroy(new Error(`JWKS ${uri}: larger than ${MAX_JWKS_BYTES} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`JWKS ${uri}: timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
  });

/** Counters a remote key source bumps (Envoy's jwt_authn.jwks_fetch_success / jwks_fetch_failed). */
export interface JwksFetchStats {
  readonly jwks_fetch_success: Counter;
  readonly jwks_fetch_failed: Counter;
}

type RemoteJwks = Extract<JwksSourceConfig, { kind: 'remote' }>;

/**
 * remote_jwks: owns the cached key set of one provider. Keys are cached for cache_duration; every caller shares
 * one in-flight fetch; a failed fetch keeps the previous (stale) keys and blocks new fetches for
 * failed_refetch_duration (default 1 s); a token naming an unknown kid refetches at most once per
 * KID_REFETCH_COOLDOWN_MS. With async_fetch, expired keys keep serving while a background refresh runs.
 * The URL comes only from config: a token's jku/x5u never reach here.
 */
export class RemoteKeySource implements KeySource {
  readonly #cfg: RemoteJwks;
  readonly #stats: JwksFetchStats;
  readonly #now: () => number;
  readonly #fetcher: JwksFetcher;
  #keys: KeySet | null;
  #expiresAtMs: number;
  #retryAfterMs: number;
  #kidRefetchAtMs: number;
  #inflight: Promise<KeySet | null> | null;

  constructor(cfg: RemoteJwks, stats: JwksFetchStats, now: () => number, fetcher: JwksFetcher = httpGetText) {
    this.#cfg = cfg;
    this.#stats = stats;
    this.#now = now;
    this.#fetcher = fetcher;
    this.#keys = null;
    this.#expiresAtMs = 0;
    this.#retryAfterMs = 0;
    this.#kidRefetchAtMs = Number.NEGATIVE_INFINITY;
    this.#inflight = null;
  }

  /** The fetch in progress, if any (tests). */
  get inflight(): Promise<KeySet | null> | null {
    return this.#inflight;
  }

  current(): KeySet | null {
    const keys = this.#keys;
    if (keys === null) return null;
    const now = this.#now();
    if (now < this.#expiresAtMs) return keys;
    if (this.#cfg.asyncFetch) {
      if (now >= this.#retryAfterMs) void this.#start();
      return keys;
    }
    // Expired and the last fetch failed recently: serve the stale keys rather than fail every request.
    return now < this.#retryAfterMs ? keys : null;
  }

  load(): Promise<KeySet | null> {
    if (this.#inflight !== null) return this.#inflight;
    if (this.#now() < this.#retryAfterMs) return Promise.resolve(this.#keys);
    return this.#start();
  }

  refetchForUnknownKid(): Promise<KeySet | null> | null {
    if (this.#inflight !== null) return this.#inflight;
    const now = this.#now();
    if (now - this.#kidRefetchAtMs < KID_REFETCH_COOLDOWN_MS || now < this.#retryAfterMs) return null;
    this.#kidRefetchAtMs = now;
    return this.#start();
  }

  /** Clears the in-flight slot once a fetch settles (bound once; registered before any caller's continuation). */
  readonly #settled = (): void => {
    this.#inflight = null;
  };

  #start(): Promise<KeySet | null> {
    let p = this.#inflight;
    if (p === null) {
      p = this.#fetch();
      this.#inflight = p;
      void p.then(this.#settled);
    }
    return p;
  }

  async #fetch(): Promise<KeySet | null> {
    try {
      const text = await this.#fetcher(this.#cfg.uri, this.#cfg.timeoutMs);
      const parsed = parseJwks(text);
      if (parsed.keys.length === 0) throw new Error(parsed.errors.join('; '));
      // Unusable keys (unsupported type, malformed) in a fetched set are skipped; the usable ones serve.
      const keys = new KeySet(parsed.keys);
      this.#keys = keys;
      this.#expiresAtMs = this.#now() + this.#cfg.cacheDurationMs;
      this.#retryAfterMs = 0;
      this.#stats.jwks_fetch_success.inc();
      return keys;
    } catch {
      this.#stats.jwks_fetch_failed.inc();
      this.#retryAfterMs = this.#now() + this.#cfg.failedRefetchMs;
      return this.#keys;
    }
  }
}
