// Cluster manager: CDS clusters, their EDS/STATIC endpoints (stable identities), health flags, circuit-breaker
// resources, outlier detection / active health checking lifecycles, and the priority-aware load balancer.
import type { Logger } from '../../src/observability/logger.js';
import { SecretStore } from '../tls/secrets.js';
import { ClientTlsContext } from '../tls/tls-context.js';
import type { StatsStore } from '../../src/observability/stats.js';
import type {
  ClusterConfig,
  EndpointsConfig,
  HealthStatus,
  LbEndpointConfig,
  SocketAddress,
} from '../../src/xds/resources/types.js';
import {
  type ClusterManager,
  type ClusterResources,
  type ClusterStats,
  HealthFlag,
  type LbContext,
  type OutlierMonitor,
  type UpstreamCluster,
  type UpstreamEndpoint,
} from '../contracts.js';
import { HealthChecker } from './health-checker.js';
import { type LocalityHosts, PrioritySetLb } from './lb/priority-set-lb.js';
import { OutlierDetector } from './outlier-detector.js';
import { ClusterResourceManager } from './resource-manager.js';

/** EDS policy.overprovisioning_factor default (percent). */
const DEFAULT_OVERPROVISIONING_FACTOR = 140;

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
  healthFlags: number;
  degraded: boolean;
  /** EDS priority (0 = highest). */
  priority: number;
  outlier: OutlierMonitor | null;
  removed: boolean;
  rqTotal: number;
  rqError: number;
  cxActive: number;
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
    this.healthy = true;
    this.healthFlags = 0;
    this.degraded = false;
    this.priority = priority;
    this.outlier = null;
    this.removed = false;
    this.rqTotal = 0;
    this.rqError = 0;
    this.cxActive = 0;
    this.localityWeight = localityWeight;
    this.healthStatus = cfg.healthStatus;
    this.update(cfg, priority, localityWeight);
  }

  /** Applies an EDS update: UNHEALTHY/DRAINING/TIMEOUT set FailedEds; DEGRADED serves as degraded. */
  update(cfg: LbEndpointConfig, priority: number, localityWeight: number): void {
    this.weight = cfg.weight;
    this.labels = cfg.labels;
    this.healthStatus = cfg.healthStatus;
    this.degraded = cfg.healthStatus === 'DEGRADED';
    this.healthFlags = isServing(cfg.healthStatus)
      ? this.healthFlags & ~HealthFlag.FailedEds
      : this.healthFlags | HealthFlag.FailedEds;
    this.healthy = this.healthFlags === 0;
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
    upstream_cx_overflow: c('upstream_cx_overflow'),
    upstream_rq_pending_total: c('upstream_rq_pending_total'),
    upstream_rq_pending_active: g('upstream_rq_pending_active'),
    upstream_rq_pending_overflow: c('upstream_rq_pending_overflow'),
    upstream_rq_retry_overflow: c('upstream_rq_retry_overflow'),
    upstream_rq_retry: c('upstream_rq_retry'),
    upstream_rq_retry_success: c('upstream_rq_retry_success'),
    upstream_rq_retry_limit_exceeded: c('upstream_rq_retry_limit_exceeded'),
    upstream_rq_retry_backoff_exponential: c('upstream_rq_retry_backoff_exponential'),
    upstream_rq_per_try_timeout: c('upstream_rq_per_try_timeout'),
    upstream_rq_per_try_idle_timeout: c('upstream_rq_per_try_idle_timeout'),
    upstream_rq_max_duration_reached: c('upstream_rq_max_duration_reached'),
    upstream_rq_rx_reset: c('upstream_rq_rx_reset'),
    upstream_rq_tx_reset: c('upstream_rq_tx_reset'),
    upstream_cx_protocol_error: c('upstream_cx_protocol_error'),
    lb_healthy_panic: c('lb_healthy_panic'),
  });
}

/** What a cluster needs to run outlier detection and health checks. */
export interface ClusterDeps {
  readonly logger: Logger;
  readonly stats: StatsStore;
  readonly secrets: SecretStore;
}

/** One EDS locality entry as assigned: its priority, weight and (deduplicated) endpoints. */
interface LocalityEntry {
  readonly priority: number;
  readonly weight: number;
  readonly hosts: Endpoint[];
}

/**
 * One cluster: config, endpoints by key, health flags, circuit-breaker resources, its outlier detector and
 * health checker, and the load balancer over all priorities. The object is stable across CDS updates.
 */
export class ManagedCluster implements UpstreamCluster {
  readonly name: string;
  readonly stats: ClusterStats;
  #config: ClusterConfig;
  #endpoints: Endpoint[] = [];
  #byKey = new Map<string, Endpoint>();
  #localities: LocalityEntry[] = [];
  #overprovisioningFactor = DEFAULT_OVERPROVISIONING_FACTOR;
  #lb: PrioritySetLb | null = null;
  readonly #random: () => number;
  readonly #deps: ClusterDeps;
  readonly #resDefault: ClusterResourceManager;
  readonly #resHigh: ClusterResourceManager;
  #outlier: OutlierDetector | null = null;
  #healthChecker: HealthChecker | null = null;
  #closed = false;
  tls: ClientTlsContext | null;

  constructor(config: ClusterConfig, stats: ClusterStats, random: () => number, deps: ClusterDeps) {
    this.name = config.name;
    this.#config = config;
    this.tls = config.tls === null ? null : new ClientTlsContext(config.tls, deps.secrets);
    this.stats = stats;
    this.#random = random;
    this.#deps = deps;
    this.#resDefault = new ClusterResourceManager(config.circuitBreakers.default);
    this.#resHigh = new ClusterResourceManager(config.circuitBreakers.high);
    this.#syncMonitors();
  }

  get config(): ClusterConfig {
    return this.#config;
  }

  /** The current priority load (percent per priority to healthy / degraded hosts, panic per priority); null with no endpoint. */
  get priorityLoad(): PrioritySetLb['load'] | null {
    return this.#lb === null ? null : this.#lb.load;
  }

  get outlierDetector(): OutlierDetector | null {
    return this.#outlier;
  }

  get healthChecker(): HealthChecker | null {
    return this.#healthChecker;
  }

  /** New CDS config: thresholds change in place (counts kept), monitors follow; call assign() next to rebuild the LB. */
  setConfig(config: ClusterConfig): void {
    if (JSON.stringify(config.tls) !== JSON.stringify(this.#config.tls)) this.tls = config.tls === null ? null : new ClientTlsContext(config.tls, this.#deps.secrets);
    this.#config = config;
    this.#resDefault.setThresholds(config.circuitBreakers.default);
    this.#resHigh.setThresholds(config.circuitBreakers.high);
    this.#syncMonitors();
  }

  /**
   * Reconciles endpoints with an assignment (null = none): keeps objects whose key is unchanged,
   * creates new ones, returns the ones that disappeared (already marked removed). Rebuilds the LB and
   * tells the outlier detector / health checker about added and removed hosts.
   */
  assign(assignment: EndpointsConfig | null): Endpoint[] {
    const next = new Map<string, Endpoint>();
    const list: Endpoint[] = [];
    const added: Endpoint[] = [];
    const localities: LocalityEntry[] = [];
    if (assignment !== null) {
      for (const loc of assignment.localities) {
        const entry: LocalityEntry = { priority: loc.priority, weight: loc.weight, hosts: [] };
        for (const epc of loc.endpoints) {
          const key = endpointKey(epc.address);
          if (next.has(key)) continue;
          let ep = this.#byKey.get(key);
          if (ep !== undefined) ep.update(epc, loc.priority, loc.weight);
          else {
            ep = new Endpoint(this.name, epc, loc.priority, loc.weight);
            added.push(ep);
          }
          next.set(key, ep);
          list.push(ep);
          entry.hosts.push(ep);
        }
        localities.push(entry);
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
    this.#localities = localities;
    this.#overprovisioningFactor = assignment?.overprovisioningFactor ?? DEFAULT_OVERPROVISIONING_FACTOR;
    this.rebuildLoadBalancer();
    if (gone.length > 0) {
      this.#outlier?.removeHosts(gone);
      this.#healthChecker?.removeHosts(gone);
    }
    if (added.length > 0) {
      this.#outlier?.addHosts(added);
      this.#healthChecker?.addHosts(added);
    }
    return gone;
  }

  /**
   * Rebuilds the LB from current endpoint health. Without locality_weighted_lb_config only endpoint weights
   * count (Envoy); locality weights are used only by locality weighted LB (pick a locality, then a host).
   */
  rebuildLoadBalancer(): void {
    if (this.#endpoints.length === 0) {
      this.#lb = null;
      return;
    }
    let maxPriority = 0;
    for (const l of this.#localities) if (l.priority > maxPriority) maxPriority = l.priority;
    const priorities: LocalityHosts[][] = Array.from({ length: maxPriority + 1 }, () => []);
    for (const l of this.#localities) if (l.hosts.length > 0) priorities[l.priority]!.push(l);
    const cfg = this.#config;
    this.#lb = new PrioritySetLb(priorities, {
      lbPolicy: cfg.lbPolicy,
      leastRequestChoiceCount: cfg.leastRequestChoiceCount,
      activeRequestBias: 1,
      ringHash: cfg.ringHash,
      maglevTableSize: cfg.maglevTableSize,
      healthyPanicThresholdPercent: cfg.healthyPanicThresholdPercent,
      localityWeightedLb: cfg.localityWeightedLb,
      overprovisioningFactor: this.#overprovisioningFactor,
      random: this.#random,
      panicCounter: this.stats.lb_healthy_panic,
    });
  }

  /** Marks every endpoint removed (cluster deleted) and returns them. */
  removeAll(): Endpoint[] {
    return this.assign(null);
  }

  /** Stops outlier detection and health checking (cluster removed, or shutdown). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#outlier?.close();
    this.#outlier = null;
    this.#healthChecker?.close();
    this.#healthChecker = null;
  }

  /** Creates, updates or closes the outlier detector and health checker to match the config. */
  #syncMonitors(): void {
    if (this.#closed) return;
    const cfg = this.#config;
    const deps = { logger: this.#deps.logger, stats: this.#deps.stats };
    if (cfg.outlierDetection !== null) {
      if (this.#outlier === null) {
        this.#outlier = new OutlierDetector(this, cfg.outlierDetection, deps);
        this.#outlier.addHosts(this.#endpoints);
      } else {
        this.#outlier.setConfig(cfg.outlierDetection);
      }
    } else if (this.#outlier !== null) {
      this.#outlier.close();
      this.#outlier = null;
      this.#clearFlagEverywhere(HealthFlag.FailedOutlierCheck);
    }
    if (cfg.healthChecks.length > 0) {
      if (this.#healthChecker === null) {
        this.#healthChecker = new HealthChecker(this, cfg.healthChecks, deps);
        this.#healthChecker.addHosts(this.#endpoints);
      } else {
        this.#healthChecker.setConfig(cfg.healthChecks);
      }
    } else if (this.#healthChecker !== null) {
      this.#healthChecker.close();
      this.#healthChecker = null;
      this.#clearFlagEverywhere(HealthFlag.FailedActiveHc);
    }
  }

  /** Clears one flag on every endpoint (its monitor is gone) and rebuilds once if serving changed. */
  #clearFlagEverywhere(flag: HealthFlag): void {
    let changed = false;
    for (const ep of this.#endpoints) {
      if (flag === HealthFlag.FailedOutlierCheck) ep.outlier = null;
      if ((ep.healthFlags & flag) === 0) continue;
      ep.healthFlags &= ~flag;
      const healthy = ep.healthFlags === 0;
      if (healthy !== ep.healthy) {
        ep.healthy = healthy;
        changed = true;
      }
    }
    if (changed) this.rebuildLoadBalancer();
  }

  // UpstreamCluster
  /** Null when no endpoint can be picked; counts `upstream_cx_none_healthy` then (callers must not count it again). */
  pick(ctx: LbContext | null): UpstreamEndpoint | null {
    const lb = this.#lb;
    const ep = lb === null ? null : lb.pick(ctx);
    if (ep === null) this.stats.upstream_cx_none_healthy.inc();
    return ep;
  }

  endpoints(): readonly UpstreamEndpoint[] {
    return this.#endpoints;
  }

  resources(priority: 'DEFAULT' | 'HIGH'): ClusterResources {
    return priority === 'HIGH' ? this.#resHigh : this.#resDefault;
  }

  setHealthFlag(ep: UpstreamEndpoint, flag: HealthFlag, on: boolean): void {
    const flags = on ? ep.healthFlags | flag : ep.healthFlags & ~flag;
    if (flags === ep.healthFlags) return;
    ep.healthFlags = flags;
    const healthy = flags === 0;
    if (healthy === ep.healthy) return;
    ep.healthy = healthy;
    // Only a member of this cluster changes what the LB serves (a removed endpoint is just updated).
    if (this.#byKey.get(ep.key) === ep) this.rebuildLoadBalancer();
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

  readonly #secrets: SecretStore;

  constructor(stats: StatsStore, logger: Logger, random: () => number = Math.random, secrets: SecretStore = new SecretStore()) {
    this.#stats = stats;
    this.#logger = logger;
    this.#random = random;
    this.#secrets = secrets;
  }

  applyClusters(upserts: ReadonlyMap<string, ClusterConfig>, removals: readonly string[]): void {
    for (const name of removals) {
      const c = this.#clusters.get(name);
      if (c === undefined) continue;
      this.#clusters.delete(name);
      this.#notifyRemoved(c.removeAll());
      c.close();
      this.#logger.info({ cluster: name }, 'cluster removed');
    }
    for (const [name, cfg] of upserts) {
      let c = this.#clusters.get(name);
      if (c === undefined) {
        c = new ManagedCluster(cfg, clusterStats(this.#stats, name), this.#random, { logger: this.#logger, stats: this.#stats, secrets: this.#secrets });
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

  /** Stops every cluster's outlier detector and health checker (sidecar shutdown). Clusters stay readable. */
  close(): void {
    for (const c of this.#clusters.values()) c.close();
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

  /** The compiled cluster object (with rebuildLoadBalancer / priorityLoad), for admin and tests. */
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
