// tessera.filters.http.api_key per stream: pick the first matching rule, find the key (header or query parameter),
// hash it and look it up in constant time, then forward with the consumer's identity (headers + dynamic metadata)
// or answer 401 (missing / invalid key) or 403 (consumer not allowed on the route). Every step is synchronous.
// The key never leaves this module: it is not logged, not counted, not put in metadata or replies, and removed from
// the request (unless keep_credential) before any outcome, so the access log never sees it either.
import type { Counter, StatsStore } from '../../../../src/observability/stats.js';
import { API_KEY_FILTER_NAME, type ApiKeyAuthConfig, consumerMetadataHeader } from '../../../../src/xds/resources/filters/api-key.js';
import { FilterStatus, RequestHeadersFilter, type DecoderFilterCallbacks } from '../../../http/filter.js';
import { HeaderMap } from '../../../http/header-map.js';
import { configuredReply, type LocalReply } from '../../../http/local-reply.js';
import { ApiKeyIndex } from './key-index.js';
import { KeyLocator } from './key-locator.js';
import { ApiKeyRuleTable } from './rule-table.js';

/** The dynamic-metadata namespace the filter writes {consumer_id, key_name, …metadata} to (RBAC and logs read it). */
export const API_KEY_NAMESPACE = API_KEY_FILTER_NAME;

/** `www-authenticate` on 401s (RFC 9110 §11.6.1 challenge; the scheme names the credential, not a standard one). */
export const API_KEY_CHALLENGE = 'ApiKey realm="tessera"';
export const API_KEY_INVALID_CHALLENGE = 'ApiKey realm="tessera", error="invalid_key"';

/** Replies (gRPC callers get UNAUTHENTICATED / PERMISSION_DENIED through the stream's status mapping). */
export const API_KEY_MISSING_REPLY: LocalReply = configuredReply('TESSERA_ERR_API_KEY_MISSING', 401, 'API key is missing', '');
export const API_KEY_INVALID_REPLY: LocalReply = configuredReply('TESSERA_ERR_API_KEY_INVALID', 401, 'API key is invalid', '');
export const API_KEY_FORBIDDEN_REPLY: LocalReply = configuredReply('TESSERA_ERR_API_KEY_FORBIDDEN', 403, 'API key is not allowed on this route', '');

/** `http.<stat_prefix>.api_key.<name>`. A skipped request or one let through without a key counts as allowed. */
export interface ApiKeyStats {
  readonly allowed: Counter;
  readonly denied_missing: Counter;
  readonly denied_invalid: Counter;
  readonly denied_consumer: Counter;
}

/** Per-filter-chain API-key state built once from the validated config: key index, rules, sources, stats. */
export class ApiKeyShared {
  readonly stats: ApiKeyStats;
  readonly index: ApiKeyIndex;
  readonly rules: ApiKeyRuleTable;
  readonly locator: KeyLocator;
  /** Headers the filter writes (consumer header, x-consumer-<key>): client-sent copies are removed from every request. */
  readonly sanitize: readonly string[];

  constructor(config: ApiKeyAuthConfig, stats: StatsStore, statPrefix: string) {
    const scope = `http.${statPrefix}.api_key.`;
    this.stats = Object.freeze({
      allowed: stats.counter(`${scope}allowed`),
      denied_missing: stats.counter(`${scope}denied_missing`),
      denied_invalid: stats.counter(`${scope}denied_invalid`),
      denied_consumer: stats.counter(`${scope}denied_consumer`),
    });
    this.index = new ApiKeyIndex(config.consumers, config.consumerHeader, config.forwardMetadata);
    this.rules = new ApiKeyRuleTable(config.rules);
    this.locator = new KeyLocator(config.sources, config.keepCredential);
    this.sanitize = Object.freeze([config.consumerHeader, ...config.forwardMetadata.map(consumerMetadataHeader)]);
  }
}

/** One stream's API-key decision, taken on the request headers; holds nothing afterwards. */
export class ApiKeyFilter extends RequestHeadersFilter {
  readonly #shared: ApiKeyShared;
  readonly #cb: DecoderFilterCallbacks;

  constructor(shared: ApiKeyShared, cb: DecoderFilterCallbacks) {
    super();
    this.#shared = shared;
    this.#cb = cb;
  }

  // HttpFilter

  onRequestHeaders(headers: HeaderMap, _endStream: boolean): FilterStatus {
    const s = this.#shared;
    const cb = this.#cb;
    const sanitize = s.sanitize;
    for (let i = 0; i < sanitize.length; i++) headers.remove(sanitize[i]!);
    const rule = s.rules.ruleFor(cb.method, cb.authority, cb.path, headers);
    const found = s.locator.locate(headers, cb.path, !rule.skip);
    if (found.strippedTarget !== null) cb.setPath(found.strippedTarget);
    if (rule.skip) {
      s.stats.allowed.inc();
      return FilterStatus.Continue;
    }
    if (found.ambiguous) return this.#deny(s.stats.denied_invalid, API_KEY_INVALID_REPLY, API_KEY_INVALID_CHALLENGE);
    const key = found.value;
    found.value = null;
    if (key === null) {
      if (rule.allowMissing) {
        s.stats.allowed.inc();
        return FilterStatus.Continue;
      }
      return this.#deny(s.stats.denied_missing, API_KEY_MISSING_REPLY, API_KEY_CHALLENGE);
    }
    const grant = s.index.lookup(key);
    if (grant === null) return this.#deny(s.stats.denied_invalid, API_KEY_INVALID_REPLY, API_KEY_INVALID_CHALLENGE);
    if (rule.allowedConsumers !== null && !rule.allowedConsumers.has(grant.consumerId)) {
      return this.#deny(s.stats.denied_consumer, API_KEY_FORBIDDEN_REPLY, null);
    }
    const h = grant.upstreamHeaders;
    for (let i = 0; i < h.length; i += 2) headers.add(h[i]!, h[i + 1]!);
    const m = grant.metadata;
    for (let i = 0; i < m.length; i++) cb.setDynamicMetadata(API_KEY_NAMESPACE, m[i]![0], m[i]![1]);
    s.stats.allowed.inc();
    return FilterStatus.Continue;
  }

  // internals

  #deny(counter: Counter, reply: LocalReply, challenge: string | null): FilterStatus {
    counter.inc();
    let h: HeaderMap | null = null;
    if (challenge !== null) {
      h = new HeaderMap();
      h.add('www-authenticate', challenge);
    }
    this.#cb.sendLocalReply(reply, h);
    return FilterStatus.StopIteration;
  }
}
