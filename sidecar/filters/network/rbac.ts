// envoy.filters.network.rbac as an evaluator the listener calls once per connection: connection-level policies
// (addresses, ports, SNI, peer identity), Envoy's `<stat_prefix>.rbac.*` counters, nothing logged per connection.
//
// enforcement_type: Envoy decides on the first bytes from the client (ONE_TIME_ON_FIRST_BYTE) or again on every
// read (CONTINUOUS). The facts a connection-level policy reads never change during a connection, so both are one
// decision here, taken when the listener asks (at connection start); CONTINUOUS re-checks would only recount.
// Envoy's network filter also writes shadow results and LOG's access_log_hint into the connection's dynamic
// metadata; Tessera connections have no dynamic metadata, so only the stats record them.
import type { StatsStore } from '../../../src/observability/stats.js';
import type { NetworkRbacConfig } from '../../../src/xds/resources/filters/rbac.js';
import type { DownstreamConnectionInfo } from '../../http/connection-info.js';
import { NO_HEADERS, RbacEngine, rbacStatScopes, rbacStats, type RbacRequest, type RbacStats } from '../rbac/engine.js';

/** Decides whether a downstream connection may proceed. */
export interface NetworkRbac {
  readonly stats: RbacStats;
  /** Counts allowed/denied (and shadow_*) and returns false when the connection must be closed. */
  check(info: DownstreamConnectionInfo): boolean;
}

/** The request view of a connection (no request line, no metadata); one per evaluator, refilled per check. */
class ConnectionRequest implements RbacRequest {
  connection: DownstreamConnectionInfo;
  downstreamRemoteAddress: string;
  readonly method: string;
  readonly path: string;
  readonly authority: string;

  constructor(info: DownstreamConnectionInfo) {
    this.connection = info;
    this.downstreamRemoteAddress = info.directRemoteAddress;
    this.method = '';
    this.path = '';
    this.authority = '';
  }

  dynamicMetadata(_namespace: string): undefined {
    return undefined;
  }
}

const NO_CONNECTION: DownstreamConnectionInfo = Object.freeze({
  directRemoteAddress: '',
  directRemotePort: 0,
  localAddress: '',
  localPort: 0,
  secure: false,
  peerCertificateValidated: false,
  peerPrincipal: '',
  peerUriSans: Object.freeze([]) as readonly string[],
  peerDnsSans: [],
  peerSubject: '',
  peerCertSha256: '',
  requestedServerName: '',
  tlsVersion: '',
});

/** One filter chain's network RBAC: engines compiled and stats resolved once. */
class NetworkRbacEvaluator implements NetworkRbac {
  readonly stats: RbacStats;
  readonly #engine: RbacEngine | null;
  readonly #shadow: RbacEngine | null;
  readonly #req: ConnectionRequest;

  constructor(config: NetworkRbacConfig, stats: StatsStore, scopePrefix: string) {
    this.#engine = config.rules === null ? null : new RbacEngine(config.rules);
    this.#shadow = config.shadowRules === null ? null : new RbacEngine(config.shadowRules);
    // Envoy: generateStats(stat_prefix, "", shadow_rules_stat_prefix) in the listener's (root) scope.
    this.stats = rbacStats(stats, rbacStatScopes(`${scopePrefix}${config.statPrefix}`, '', config.shadowRulesStatPrefix));
    this.#req = new ConnectionRequest(NO_CONNECTION);
  }

  check(info: DownstreamConnectionInfo): boolean {
    const r = this.#req;
    r.connection = info;
    r.downstreamRemoteAddress = info.directRemoteAddress;
    const shadow = this.#shadow;
    if (shadow !== null) {
      if (shadow.allows(shadow.match(r, NO_HEADERS))) this.stats.shadow_allowed.inc();
      else this.stats.shadow_denied.inc();
    }
    const engine = this.#engine;
    let allowed = true;
    if (engine !== null) {
      allowed = engine.allows(engine.match(r, NO_HEADERS));
      if (allowed) this.stats.allowed.inc();
      else this.stats.denied.inc();
    }
    r.connection = NO_CONNECTION;
    return allowed;
  }
}

/**
 * Builds the evaluator of one validated envoy.filters.network.rbac config. Stats are Envoy's
 * `<scopePrefix><stat_prefix>.rbac.{allowed,denied}` and `…rbac.<shadow_rules_stat_prefix>[.]{shadow_allowed,shadow_denied}`;
 * `scopePrefix` is '' for Envoy's names (network filter stats live in the root scope).
 */
export function createNetworkRbac(config: NetworkRbacConfig, stats: StatsStore, scopePrefix = ''): NetworkRbac {
  return new NetworkRbacEvaluator(config, stats, scopePrefix);
}
