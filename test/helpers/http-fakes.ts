// Test fakes implementing the sidecar contracts (route table, RDS provider, clusters) for HTTP engine tests.
import { Writable } from 'node:stream';
import type { DownstreamConnectionInfo } from '../../sidecar/http/connection-info.js';
import type { DecoderFilterCallbacks } from '../../sidecar/http/filter.js';
import type { HeaderMap as FilterHeaderMap } from '../../sidecar/http/header-map.js';
import type { LocalReply } from '../../sidecar/http/local-reply.js';
import { pino } from 'pino';
import { StatsStore } from '../../src/observability/stats.js';
import { silentLogger, type Logger } from '../../src/observability/logger.js';
import { clusterStats } from '../../sidecar/upstream/cluster-manager.js';
import type {
  CircuitBreakerThresholds, ClusterConfig, ForwardActionConfig, HcmConfig, HeaderMutationsConfig, RouteConfigData, RouteEntryConfig,
  VirtualHostConfig,
} from '../../src/xds/resources/types.js';
import type {
  ClusterManager, ClusterResources, ClusterStats, HealthFlag, LbContext, ResourceLimit, RouteMatch, RouteProvider, RouteRequest,
  RouteTable, SidecarContext, UpstreamCluster, UpstreamConnPools, UpstreamEndpoint,
} from '../../sidecar/contracts.js';
import { H1ConnPools } from '../../sidecar/upstream/conn-pool/h1.js';
import type { ConnPool, UpstreamRequest } from '../../sidecar/upstream/conn-pool/pool.js';
import { DEFAULT_CIRCUIT_BREAKER_THRESHOLDS } from '../../src/xds/resources/cluster.js';
import { DOWNSTREAM_HTTP2_DEFAULTS, UPSTREAM_HTTP2_DEFAULTS } from '../../src/xds/resources/common.js';
import { SecretStore } from '../../sidecar/tls/secrets.js';
import type { PrioritySetLbOptions } from '../../sidecar/upstream/lb/priority-set-lb.js';

export const NO_MUTATIONS: HeaderMutationsConfig = Object.freeze({
  requestHeadersToAdd: [],
  requestHeadersToRemove: [],
  responseHeadersToAdd: [],
  responseHeadersToRemove: [],
});

export function hcmConfig(over: Partial<HcmConfig> = {}): HcmConfig {
  return {
    kind: 'http_connection_manager',
    statPrefix: 'ingress',
    codecType: 'AUTO',
    rdsRouteConfigName: null,
    routeConfig: null,
    httpFilters: [],
    requestTimeoutMs: 0,
    forwardClientCertDetails: 'SANITIZE',
    setCurrentClientCertDetails: { subject: false, cert: false, chain: false, dns: false, uri: false },
    requestHeadersTimeoutMs: 10_000,
    streamIdleTimeoutMs: 300_000,
    idleTimeoutMs: 3_600_000,
    maxHeadersCount: 100,
    maxRequestHeadersKb: 60,
    drainTimeoutMs: 5000,
    useRemoteAddress: false,
    xffNumTrustedHops: 0,
    generateRequestId: true,
    preserveExternalRequestId: false,
    via: '',
    serverName: 'tessera',
    acceptHttp10: true,
    upgradeTypes: ['websocket'],
    normalizePath: false,
    mergeSlashes: false,
    http2: DOWNSTREAM_HTTP2_DEFAULTS,
    maxStreamDurationMs: 0,
    ...over,
  };
}

export function forward(cluster: string, over: Partial<ForwardActionConfig> = {}): ForwardActionConfig {
  return {
    kind: 'route',
    cluster,
    weightedClusters: null,
    prefixRewrite: null,
    regexRewrite: null,
    hostRewriteLiteral: null,
    autoHostRewrite: false,
    timeoutMs: 15_000,
    idleTimeoutMs: null,
    upgradeTypes: null,
    retryPolicy: null,
    hashPolicy: [],
    maxStreamDurationMs: null,
    grpcTimeoutHeaderMaxMs: null,
    grpcTimeoutHeaderOffsetMs: 0,
    priority: 'DEFAULT',
    perRequestBufferLimitBytes: null,
    ...over,
  };
}

export function prefixRoute(prefix: string, action: RouteEntryConfig['action'], over: Partial<RouteEntryConfig> = {}): RouteEntryConfig {
  return {
    ...NO_MUTATIONS,
    name: `r${prefix}`,
    match: { path: { kind: 'prefix', value: prefix }, caseSensitive: true, headers: [], queryParameters: [] },
    action,
    ...over,
  };
}

export function vhost(domains: string[], routes: RouteEntryConfig[], over: Partial<VirtualHostConfig> = {}): VirtualHostConfig {
  return { ...NO_MUTATIONS, name: `vh-${domains[0]}`, domains, routes, requireTls: false, ...over };
}

export function routeConfig(virtualHosts: VirtualHostConfig[], over: Partial<RouteConfigData> = {}): RouteConfigData {
  return { ...NO_MUTATIONS, name: 'rc', virtualHosts, raw: null, ...over };
}

/** Minimal RouteTable: exact or '*' domains, prefix/path/regex routes, first weighted cluster. */
export class FakeRouteTable implements RouteTable {
  constructor(readonly config: RouteConfigData) {}

  match(req: RouteRequest): RouteMatch | null {
    const host = req.authority.replace(/:\d+$/, '');
    const vh =
      this.config.virtualHosts.find((v) => v.domains.includes(req.authority) || v.domains.includes(host)) ??
      this.config.virtualHosts.find((v) => v.domains.includes('*'));
    if (vh === undefined) return null;
    const path = req.path.split('?')[0]!;
    for (const r of vh.routes) {
      const m = r.match.path;
      const hit =
        m.kind === 'prefix' || m.kind === 'path_separated_prefix'
          ? path.startsWith(m.value)
          : m.kind === 'path'
            ? path === m.value
            : new RegExp(`^(?:${m.regex})$`).test(path);
      if (!hit) continue;
      const a = r.action;
      if (a.kind !== 'route') return { virtualHost: vh, route: r, clusterName: null, weightedCluster: null };
      const wc = a.weightedClusters?.[0] ?? null;
      return { virtualHost: vh, route: r, clusterName: wc !== null ? wc.name : a.cluster, weightedCluster: wc };
    }
    return null;
  }
}

export class FakeRouteProvider implements RouteProvider {
  readonly tables = new Map<string, RouteTable>();
  get(name: string): RouteTable | null {
    return this.tables.get(name) ?? null;
  }
}

/** A healthy endpoint `address:port` of `clusterName` with no traffic yet; `over` sets any other field (key, weight, labels...). */
export function endpoint(clusterName: string, port: number, address = '127.0.0.1', over: Partial<UpstreamEndpoint> = {}): UpstreamEndpoint {
  return {
    key: `${address}:${port}`,
    address: { address, port },
    clusterName,
    weight: 1,
    labels: {},
    activeRequests: 0,
    healthy: true,
    healthFlags: 0,
    degraded: false,
    priority: 0,
    outlier: null,
    removed: false,
    rqTotal: 0,
    rqError: 0,
    cxActive: 0,
    ...over,
  };
}

export function clusterConfig(name: string, over: Partial<ClusterConfig> = {}): ClusterConfig {
  return {
    name,
    type: 'STATIC',
    edsServiceName: name,
    connectTimeoutMs: 5000,
    lbPolicy: 'ROUND_ROBIN',
    leastRequestChoiceCount: 2,
    loadAssignment: null,
    tls: null,
    upstreamIdleTimeoutMs: 3_600_000,
    maxRequestsPerConnection: 0,
    perConnectionBufferLimitBytes: 1024 * 1024,
    ringHash: { minRingSize: 1024, maxRingSize: 8_388_608 },
    maglevTableSize: 65_537,
    healthyPanicThresholdPercent: 50,
    localityWeightedLb: false,
    circuitBreakers: { default: DEFAULT_CIRCUIT_BREAKER_THRESHOLDS, high: DEFAULT_CIRCUIT_BREAKER_THRESHOLDS },
    outlierDetection: null,
    healthChecks: [],
    upstreamProtocol: 'http1',
    http2: UPSTREAM_HTTP2_DEFAULTS,
    raw: null,
    ...over,
  };
}

/** Cluster-level LB options at clusterConfig()'s defaults (round robin, panic at 50%, overprovisioning 140), Math.random. */
export function prioritySetLbOptions(over: Partial<PrioritySetLbOptions> = {}): PrioritySetLbOptions {
  return {
    lbPolicy: 'ROUND_ROBIN',
    leastRequestChoiceCount: 2,
    activeRequestBias: 1,
    ringHash: { minRingSize: 1024, maxRingSize: 8 << 20 },
    maglevTableSize: 65537,
    healthyPanicThresholdPercent: 50,
    localityWeightedLb: false,
    overprovisioningFactor: 140,
    random: Math.random,
    panicCounter: { inc() {} },
    ...over,
  };
}

/** A circuit-breaker counter: `count` in use against `max`. */
export class FakeResourceLimit implements ResourceLimit {
  count = 0;
  constructor(readonly max: number) {}
  canCreate(): boolean {
    return this.count < this.max;
  }
  inc(): void {
    this.count++;
  }
  dec(): void {
    this.count--;
  }
}

function fakeResources(t: CircuitBreakerThresholds): ClusterResources {
  return {
    connections: new FakeResourceLimit(t.maxConnections),
    pendingRequests: new FakeResourceLimit(t.maxPendingRequests),
    requests: new FakeResourceLimit(t.maxRequests),
    retries: new FakeResourceLimit(t.maxRetries),
  };
}

/** Round-robin over healthy, non-removed endpoints; owns its circuit-breaker counters per priority. */
export class FakeCluster implements UpstreamCluster {
  readonly tls = null;
  readonly stats: ClusterStats;
  eps: UpstreamEndpoint[];
  #rr = 0;
  readonly #resources: Readonly<Record<'DEFAULT' | 'HIGH', ClusterResources>>;
  constructor(readonly name: string, readonly config: ClusterConfig, eps: UpstreamEndpoint[], store: StatsStore) {
    this.eps = eps;
    this.stats = clusterStats(store, name);
    this.#resources = { DEFAULT: fakeResources(config.circuitBreakers.default), HIGH: fakeResources(config.circuitBreakers.high) };
  }
  resources(priority: 'DEFAULT' | 'HIGH'): ClusterResources {
    return this.#resources[priority];
  }
  setHealthFlag(ep: UpstreamEndpoint, flag: HealthFlag, on: boolean): void {
    ep.healthFlags = on ? ep.healthFlags | flag : ep.healthFlags & ~flag;
    ep.healthy = ep.healthFlags === 0;
  }
  pick(_ctx: LbContext | null = null): UpstreamEndpoint | null {
    const ok = this.eps.filter((e) => e.healthy && !e.removed);
    if (ok.length === 0) {
      this.stats.upstream_cx_none_healthy.inc(); // as the contract says: pick() counts it
      return null;
    }
    return ok[this.#rr++ % ok.length]!;
  }
  endpoints(): readonly UpstreamEndpoint[] {
    return this.eps;
  }
}

export class FakeClusterManager implements ClusterManager {
  readonly clusters = new Map<string, FakeCluster>();
  readonly #removed: ((ep: UpstreamEndpoint) => void)[] = [];
  constructor(readonly store: StatsStore) {}

  add(name: string, ports: number[], over: Partial<ClusterConfig> = {}): FakeCluster {
    const c = new FakeCluster(name, clusterConfig(name, over), ports.map((p) => endpoint(name, p)), this.store);
    this.clusters.set(name, c);
    return c;
  }
  get(name: string): UpstreamCluster | null {
    return this.clusters.get(name) ?? null;
  }
  all(): readonly UpstreamCluster[] {
    return [...this.clusters.values()];
  }
  onEndpointRemoved(fn: (ep: UpstreamEndpoint) => void): void {
    this.#removed.push(fn);
  }
  /** Simulates EDS removing `ep`. */
  remove(ep: UpstreamEndpoint): void {
    ep.removed = true;
    for (const c of this.clusters.values()) c.eps = c.eps.filter((e) => e !== ep);
    for (const fn of this.#removed) fn(ep);
  }
}

/** Collects access-log lines (parsed JSON). */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

export interface TestContext {
  readonly ctx: SidecarContext;
  readonly stats: StatsStore;
  readonly clusters: FakeClusterManager;
  readonly routes: FakeRouteProvider;
  readonly accessLines: Record<string, unknown>[];
}

/** Stands in for a protocol's pool in tests that never use it: asking it for a stream is a test bug. */
export class UnusedConnPool implements ConnPool {
  constructor(readonly protocol: string) {}
  newStream(cluster: UpstreamCluster): UpstreamRequest | null {
    throw new Error(`testContext has no ${this.protocol} upstream pool (cluster ${cluster.name}): pass one to testContext()`);
  }
  closeAll(): void {}
}

/** A context over fakes; upstream HTTP/1.1 uses the real pool unless `pools` replaces it. */
export function testContext(pools: Partial<UpstreamConnPools> = {}): TestContext {
  const stats = new StatsStore();
  const clusters = new FakeClusterManager(stats);
  const routes = new FakeRouteProvider();
  const { logger, lines } = captureLogger();
  const ctx: SidecarContext = {
    nodeId: 'test-node',
    stats,
    logger: silentLogger(),
    accessLogger: logger,
    clusters,
    routes,
    compileRouteTable: (c) => new FakeRouteTable(c),
    connPools: { http1: pools.http1 ?? new H1ConnPools(clusters), http2: pools.http2 ?? new UnusedConnPool('HTTP/2') },
    secrets: new SecretStore(),
  };
  return { ctx, stats, clusters, routes, accessLines: lines };
}

/** Connection facts for filter tests: plaintext from 10.0.0.1 to port 8080 unless overridden (e.g. a TLS peer). */
export function connInfo(over: Partial<DownstreamConnectionInfo> = {}): DownstreamConnectionInfo {
  return {
    directRemoteAddress: '10.0.0.1',
    directRemotePort: 40000,
    localAddress: '10.0.0.2',
    localPort: 8080,
    secure: false,
    peerCertificateValidated: false,
    peerPrincipal: '',
    peerUriSans: [],
    peerDnsSans: [],
    peerSubject: '',
    peerCertSha256: '',
    requestedServerName: '',
    tlsVersion: '',
    ...over,
  };
}

/** Records what an HTTP filter asks of its stream (local replies, continues, flags, dynamic metadata). */
export class FakeDecoderCallbacks implements DecoderFilterCallbacks {
  route: RouteMatch | null = null;
  method = 'GET';
  path = '/';
  setPath(path: string): void {
    this.path = path;
  }
  authority = 'svc.local';
  isGrpc = false;
  connection: DownstreamConnectionInfo = connInfo();
  downstreamRemoteAddress = '10.0.0.1';
  continued = 0;
  replies: { reply: LocalReply; headers: FilterHeaderMap | null }[] = [];
  flags: string[] = [];
  metadata = new Map<string, Record<string, unknown>>();
  onContinue: (() => void) | null = null;
  continueDecoding(): void {
    this.continued++;
    this.onContinue?.();
  }
  sendLocalReply(reply: LocalReply, headers: FilterHeaderMap | null): void {
    this.replies.push({ reply, headers });
  }
  addResponseFlag(flag: string): void {
    this.flags.push(flag);
  }
  dynamicMetadata(namespace: string): Readonly<Record<string, unknown>> | undefined {
    return this.metadata.get(namespace);
  }
  setDynamicMetadata(namespace: string, key: string, value: unknown): void {
    let ns = this.metadata.get(namespace);
    if (ns === undefined) {
      ns = {};
      this.metadata.set(namespace, ns);
    }
    ns[key] = value;
  }
}
