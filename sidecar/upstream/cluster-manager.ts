// Cluster manager: CDS clusters, their EDS/STATIC endpoints (stable identities), priorities and load balancers.
import type { Logger } from '../../src/observability/logger.js';
import type { StatsStore } from '../../src/observability/stats.js';
import type {
  ClusterConfig,
  EndpointsConfig,
  HealthStatus,
  LbEndpointConfig,
  SocketAddress,
} from '../../src/xds/resources/types.js';
import type { ClusterManager, ClusterStats, UpstreamCluster, UpstreamEndpoint } from '../contracts.js';
import { LeastRequestLb } from './lb/least-request.js';
import type { LoadBalancer } from './lb/load-balancer.js';
import { RoundRobinLb } from './lb/round-robin.js';

/** 'address:port', with IPv6 literals bracketed. */
export function endpointKey(a: SocketAddress): string {
  return a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/** HEALTHY, UNKNOWN and DEGRADED serve traffic; UNHEALTHY, DRAINING and TIMEOUT do not. */
export function isServing(status: HealthStatus): boolean {
  return status === 'HEALTHY' || status === 'UNKNOWN' || status === 'DEGRADED';
}

/** One upstream host; the same object lives as long as its key stays in the cluster's assignment. */
export class Endpoint implements UpstreamEndpoint {
  readonly key: string;
  readonly address: SocketAddress;
  readonly clusterName: string;
  weight: number;
  labels: Readonly<Record<string, string>>;
  activeRequests: number;
  healthy: boolean;
  removed: boolean;
  rqTotal: number;
  rqError: number;
  cxActive: number;
  /** EDS priority (0 = highest). */
  priority: number;
  /** load_balancing_weight of the endpoint's locality. */
  localityWeight: number;
  /** EDS health_status as last received. */
  healthStatus: HealthStatus;

  constructor(clusterName: string, cfg: LbEndpointConfig, priority: number, localityWeight: number) {
    this.key = endpointKey(cfg.address);
    this.address = cfg.address;
    this.clusterName = clusterName;
    this.weight = cfg.weight;
    this.labels = cfg.labels;
    this.activeRequests = 0;
    this.healthy = isServing(cfg.healthStatus);
    this.removed = false;
    this.rqTotal = 0;
    this.rqError = 0;
    this.cxActive = 0;
    this.priority = priority;
    this.localityWeight = localityWeight;
    this.healthStatus = cfg.healthStatus;
  }

  update(cfg: LbEndpointConfig, priority: number, localityWeight: number): void {
    this.weight = cfg.weight;
    this.labels = cfg.labels;
    this.healthStatus = cfg.healthStatus;
    this.healthy = isServing(cfg.healthStatus);
    this.priority = priority;
    this.localityWeight = localityWeight;
  }
}

/** The stat handles of one cluster, `cluster.<name>.<stat>`, resolved once. */
export function clusterStats(stats: StatsStore, name: string): ClusterStats {
  const c = (s: string) => stats.counter(`cluster.${name}.${s}`);
  const g = (s: string) => stats.gauge(`cluster.${name}.${s}`);
  return Object.freeze({
    upstream_cx_total: c('upstream_cx_total'),
    upstream_cx_active: g('upstream_cx_active'),
    upstream_cx_connect_fail: c('upstream_cx_connect_fail'),
    upstream_cx_connect_timeout: c('upstream_cx_connect_timeout'),
    upstream_rq_total: c('upstream_rq_total'),
    upstream_rq_active: g('upstream_rq_active'),
    upstream_rq_timeout: c('upstream_rq_timeout'),
    upstream_rq_2xx: c('upstream_rq_2xx'),
    upstream_rq_3xx: c('upstream_rq_3xx'),
    upstream_rq_4xx: c('upstream_rq_4xx'),
    upstream_rq_5xx: c('upstream_rq_5xx'),
    upstream_cx_none_healthy: c('upstream_cx_none_healthy'),
  });
}

/**
 * One cluster: config, endpoints by key, and the load balancer over the serving endpoints of the
 * lowest priority that has any. The object is stable across CDS updates of the same name.
 */
export class ManagedCluster implements UpstreamCluster {
  readonly name: string;
  readonly stats: ClusterStats;
  #config: ClusterConfig;
  #endpoints: Endpoint[] = [];
  #byKey = new Map<string, Endpoint>();
  #lb: LoadBalancer | null = null;
  /** Priority the load balancer currently serves from (-1 when none serve). */
  #activePriority = -1;
  readonly #random: () => number;

  constructor(config: ClusterConfig, stats: ClusterStats, random: () => number) {
    this.name = config.name;
    this.#config = config;
    this.stats = stats;
    this.#random = random;
  }

  get config(): ClusterConfig {
    return this.#config;
  }

  get activePriority(): number {
    return this.#activePriority;
  }

  setConfig(config: ClusterConfig): void {
    this.#config = config;
  }

  /**
   * Reconciles endpoints with an assignment (null = none): keeps objects whose key is unchanged,
   * creates new ones, returns the ones that disappeared (already marked removed). Rebuilds the LB.
   */
  assign(assignment: EndpointsConfig | null): Endpoint[] {
    const next = new Map<string, Endpoint>();
    const list: Endpoint[] = [];
    if (assignment !== null) {
      for (const loc of assignment.localities) {
        for (const epc of loc.endpoints) {
          const key = endpointKey(epc.address);
          if (next.has(key)) continue;
          let ep = this.#byKey.get(key);
          if (ep !== undefined) ep.update(epc, loc.priority, loc.weight);
          else ep = new Endpoint(this.name, epc, loc.priority, loc.weight);
          next.set(key, ep);
          list.push(ep);
        }
      }
    }
    const gone: Endpoint[] = [];
    for (const [key, ep] of this.#byKey) {
      if (!next.has(key)) {
        ep.removed = true;
        gone.push(ep);
      }
    }
    this.#byKey = next;
    this.#endpoints = list;
    this.rebuildLoadBalancer();
    return gone;
  }

  /**
   * Rebuilds the LB from current endpoint health (call after changing `healthy` out of band, e.g.
   * outlier ejection). Locality weighting is approximated: effective weight = endpoint weight × locality weight.
   */
  rebuildLoadBalancer(): void {
    let prio = -1;
    for (const ep of this.#endpoints) {
      if (ep.healthy && (prio === -1 || ep.priority < prio)) prio = ep.priority;
    }
    this.#activePriority = prio;
    if (prio === -1) {
      this.#lb = null;
      return;
    }
    const chosen: Endpoint[] = [];
    const weights: number[] = [];
    for (const ep of this.#endpoints) {
      if (ep.healthy && ep.priority === prio) {
        chosen.push(ep);
        weights.push(Math.max(1, ep.weight) * Math.max(1, ep.localityWeight));
      }
    }
    this.#lb =
      this.#config.lbPolicy === 'LEAST_REQUEST'
        ? new LeastRequestLb(chosen, weights, this.#config.leastRequestChoiceCount, this.#random)
        : new RoundRobinLb(chosen, weights, this.#random);
  }

  /** Marks every endpoint removed (cluster deleted) and returns them. */
  removeAll(): Endpoint[] {
    return this.assign(null);
  }

  // UpstreamCluster
  /** Null when no endpoint serves; counts `upstream_cx_none_healthy` then (callers must not count it again). */
  pick(): UpstreamEndpoint | null {
    const lb = this.#lb;
    const ep = lb === null ? null : lb.pick();
    if (ep === null) this.stats.upstream_cx_none_healthy.inc();
    return ep;
  }

  endpoints(): readonly UpstreamEndpoint[] {
    return this.#endpoints;
  }
}

/** Owns every cluster and the EDS assignments (kept even before their cluster arrives). */
export class ClusterManagerImpl implements ClusterManager {
  readonly #stats: StatsStore;
  readonly #logger: Logger;
  readonly #random: () => number;
  readonly #clusters = new Map<string, ManagedCluster>();
  /** EDS assignments by cluster_name (= a cluster's edsServiceName). */
  readonly #assignments = new Map<string, EndpointsConfig>();
  readonly #removedListeners: ((ep: UpstreamEndpoint) => void)[] = [];
  #sorted: readonly ManagedCluster[] = [];

  constructor(stats: StatsStore, logger: Logger, random: () => number = Math.random) {
    this.#stats = stats;
    this.#logger = logger;
    this.#random = random;
  }

  applyClusters(upserts: ReadonlyMap<string, ClusterConfig>, removals: readonly string[]): void {
    for (const name of removals) {
      const c = this.#clusters.get(name);
      if (c === undefined) continue;
      this.#clusters.delete(name);
      this.#notifyRemoved(c.removeAll());
      this.#logger.info({ cluster: name }, 'cluster removed');
    }
    for (const [name, cfg] of upserts) {
      let c = this.#clusters.get(name);
      if (c === undefined) {
        c = new ManagedCluster(cfg, clusterStats(this.#stats, name), this.#random);
        this.#clusters.set(name, c);
      } else {
        c.setConfig(cfg);
      }
      this.#notifyRemoved(c.assign(this.#assignmentFor(cfg)));
    }
    this.#sorted = [...this.#clusters.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  applyEndpoints(upserts: ReadonlyMap<string, EndpointsConfig>, removals: readonly string[]): void {
    const touched = new Set<string>();
    for (const name of removals) {
      if (this.#assignments.delete(name)) touched.add(name);
    }
    for (const [name, cla] of upserts) {
      this.#assignments.set(name, cla);
      touched.add(name);
    }
    if (touched.size === 0) return;
    for (const c of this.#clusters.values()) {
      const cfg = c.config;
      if (cfg.type === 'EDS' && touched.has(cfg.edsServiceName)) this.#notifyRemoved(c.assign(this.#assignmentFor(cfg)));
    }
  }

  #assignmentFor(cfg: ClusterConfig): EndpointsConfig | null {
    return cfg.type === 'STATIC' ? cfg.loadAssignment : (this.#assignments.get(cfg.edsServiceName) ?? null);
  }

  #notifyRemoved(gone: readonly Endpoint[]): void {
    for (const ep of gone) {
      for (const fn of this.#removedListeners) {
        try {
          fn(ep);
        } catch (e) {
          this.#logger.error({ cluster: ep.clusterName, err: e }, 'endpoint-removed listener threw');
        }
      }
    }
  }

  /** The compiled cluster object (with rebuildLoadBalancer / activePriority), for admin and tests. */
  cluster(name: string): ManagedCluster | null {
    return this.#clusters.get(name) ?? null;
  }

  /** Names of EDS assignments held (including those with no cluster yet). */
  assignmentNames(): string[] {
    return [...this.#assignments.keys()].sort();
  }

  // ClusterManager
  get(name: string): UpstreamCluster | null {
    return this.#clusters.get(name) ?? null;
  }

  all(): readonly UpstreamCluster[] {
    return this.#sorted;
  }

  onEndpointRemoved(fn: (ep: UpstreamEndpoint) => void): void {
    this.#removedListeners.push(fn);
  }
}
