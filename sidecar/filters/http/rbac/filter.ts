// envoy.filters.http.rbac per stream: shadow rules first (stats + dynamic metadata, never enforced), then the
// enforced rules — allowed requests continue, denied ones get 403 `RBAC: access denied` (Envoy's decodeHeaders).
// Like Envoy, each evaluated engine records its result (and the effective policy) in dynamic metadata under
// envoy.filters.http.rbac; no response flag is set (Envoy reports RBAC denials in response code details only).
import type { Counter, StatsStore } from '../../../../src/observability/stats.js';
import type { HttpRbacConfig } from '../../../../src/xds/resources/filters/rbac.js';
import { FilterStatus, RequestHeadersFilter, type DecoderFilterCallbacks } from '../../../http/filter.js';
import type { HeaderMap } from '../../../http/header-map.js';
import { configuredReply, type LocalReply } from '../../../http/local-reply.js';
import { RbacEngine, rbacStatScopes, rbacStats, statPrefixJoin, type RbacPolicy, type RbacStats } from '../../rbac/engine.js';

/** The dynamic metadata namespace the filter writes (Envoy's). */
export const RBAC_METADATA_NAMESPACE = 'envoy.filters.http.rbac';
/** Envoy's shared namespace for access_log_hint (set by the LOG action). */
export const COMMON_METADATA_NAMESPACE = 'envoy.common';
export const ACCESS_LOG_HINT = 'access_log_hint';
const ALLOWED = 'allowed';
const DENIED = 'denied';

/** The reply to a denied request; gRPC callers get PERMISSION_DENIED (7) through the stream's 403 mapping. */
export const RBAC_DENIED_REPLY: LocalReply = configuredReply('TESSERA_ERR_RBAC_DENIED', 403, 'RBAC: access denied', '');

/** Per-policy counters of one engine, by policy index (`…rbac.<prefix>policy.<name>.<stat>`). */
interface PolicyCounters {
  readonly allowed: readonly Counter[];
  readonly denied: readonly Counter[];
}

function policyCounters(store: StatsStore, scope: string, engine: RbacEngine, allowed: string, denied: string): PolicyCounters {
  const prefix = statPrefixJoin(scope, 'policy.');
  return Object.freeze({
    allowed: Object.freeze(engine.policies.map((p) => store.counter(`${prefix}${p.name}.${allowed}`))),
    denied: Object.freeze(engine.policies.map((p) => store.counter(`${prefix}${p.name}.${denied}`))),
  });
}

/** Per-filter-chain RBAC state built once: compiled engines, stat handles, metadata keys. */
export class RbacShared {
  /** null = no `rules`: every request is allowed and nothing is counted. */
  readonly engine: RbacEngine | null;
  readonly shadow: RbacEngine | null;
  readonly stats: RbacStats;
  /** track_per_rule_stats; null when off. */
  readonly policyStats: PolicyCounters | null;
  readonly shadowPolicyStats: PolicyCounters | null;
  // Dynamic metadata keys, each with its stat prefix in front (Envoy).
  readonly enforcedPolicyKey: string;
  readonly enforcedResultKey: string;
  readonly shadowPolicyKey: string;
  readonly shadowResultKey: string;

  /** `statPrefix` is the HCM's stat_prefix: stats are `http.<statPrefix>.rbac.…`. */
  constructor(config: HttpRbacConfig, stats: StatsStore, statPrefix: string) {
    this.engine = config.rules === null ? null : new RbacEngine(config.rules);
    this.shadow = config.shadowRules === null ? null : new RbacEngine(config.shadowRules);
    const scopes = rbacStatScopes(`http.${statPrefix}.`, config.rulesStatPrefix, config.shadowRulesStatPrefix);
    this.stats = rbacStats(stats, scopes);
    const track = config.trackPerRuleStats;
    this.policyStats = track && this.engine !== null ? policyCounters(stats, scopes.rules, this.engine, 'allowed', 'denied') : null;
    this.shadowPolicyStats =
      track && this.shadow !== null ? policyCounters(stats, scopes.shadow, this.shadow, 'shadow_allowed', 'shadow_denied') : null;
    this.enforcedPolicyKey = `${config.rulesStatPrefix}enforced_effective_policy_id`;
    this.enforcedResultKey = `${config.rulesStatPrefix}enforced_engine_result`;
    this.shadowPolicyKey = `${config.shadowRulesStatPrefix}shadow_effective_policy_id`;
    this.shadowResultKey = `${config.shadowRulesStatPrefix}shadow_engine_result`;
  }
}

/** One stream's RBAC decision, taken on the request headers; holds nothing afterwards. */
export class RbacFilter extends RequestHeadersFilter {
  readonly #shared: RbacShared;
  readonly #cb: DecoderFilterCallbacks;

  constructor(shared: RbacShared, cb: DecoderFilterCallbacks) {
    super();
    this.#shared = shared;
    this.#cb = cb;
  }

  // HttpFilter

  onRequestHeaders(headers: HeaderMap, _endStream: boolean): FilterStatus {
    const s = this.#shared;
    const cb = this.#cb;
    if (s.shadow !== null) this.#shadow(s.shadow, headers);
    const engine = s.engine;
    if (engine === null) return FilterStatus.Continue;
    const matched = engine.match(cb, headers);
    const allowed = engine.allows(matched);
    if (engine.action === 'LOG') cb.setDynamicMetadata(COMMON_METADATA_NAMESPACE, ACCESS_LOG_HINT, matched !== null);
    if (matched !== null) cb.setDynamicMetadata(RBAC_METADATA_NAMESPACE, s.enforcedPolicyKey, matched.name);
    cb.setDynamicMetadata(RBAC_METADATA_NAMESPACE, s.enforcedResultKey, allowed ? ALLOWED : DENIED);
    if (allowed) {
      s.stats.allowed.inc();
      if (matched !== null && s.policyStats !== null) s.policyStats.allowed[matched.index]!.inc();
      return FilterStatus.Continue;
    }
    s.stats.denied.inc();
    if (matched !== null && s.policyStats !== null) s.policyStats.denied[matched.index]!.inc();
    cb.sendLocalReply(RBAC_DENIED_REPLY, null);
    return FilterStatus.StopIteration;
  }

  // internals

  /** Shadow rules: counted and recorded, never enforced. */
  #shadow(engine: RbacEngine, headers: HeaderMap): void {
    const s = this.#shared;
    const matched: RbacPolicy | null = engine.match(this.#cb, headers);
    const allowed = engine.allows(matched);
    if (allowed) s.stats.shadow_allowed.inc();
    else s.stats.shadow_denied.inc();
    if (matched !== null) {
      const ps = s.shadowPolicyStats;
      if (ps !== null) (allowed ? ps.allowed : ps.denied)[matched.index]!.inc();
      this.#cb.setDynamicMetadata(RBAC_METADATA_NAMESPACE, s.shadowPolicyKey, matched.name);
    }
    this.#cb.setDynamicMetadata(RBAC_METADATA_NAMESPACE, s.shadowResultKey, allowed ? ALLOWED : DENIED);
  }
}
