// The interfaces between the sidecar's layers: listener → network filter → HTTP engine → router → upstream.
// Each layer's module implements one of these; wiring (sidecar/server.ts) connects them.
import type { Socket } from 'node:net';
import type { Logger } from '../src/observability/logger.js';
import type { Counter, Gauge, StatsStore } from '../src/observability/stats.js';
import type {
  ClusterConfig,
  NetworkFilterConfig,
  RouteConfigData,
  RouteEntryConfig,
  SocketAddress,
  VirtualHostConfig,
  WeightedClusterConfig,
} from '../src/xds/resources/types.js';
import type { HeaderMap } from './http/header-map.js';
import type { ConnPool } from './upstream/conn-pool/pool.js';
import type { SecretStore } from './tls/secrets.js';
import type { ClientTlsContext } from './tls/tls-context.js';

// ---------- listener ↔ network filters ----------

/** One accepted connection, owned by a network filter (tcp_proxy or the HTTP connection manager). */
export interface ConnectionHandler {
  /** Start draining: HTTP finishes in-flight requests and answers the next one with `Connection: close`. */
  drain(): void;
  /** Close now (drain timeout expired, or shutdown). */
  close(): void;
}

/** Built once per filter chain when a listener is (re)configured; handles each accepted connection. */
export interface NetworkFilterChain {
  onConnection(socket: Socket): ConnectionHandler;
}

/** Per-listener settings a network filter may honour. */
export interface NetworkFilterChainOptions {
  /** The listener's per_connection_buffer_limit_bytes: bytes buffered per connection and direction before reads pause. */
  readonly bufferLimitBytes: number;
}

export type NetworkFilterChainFactory = (config: NetworkFilterConfig, ctx: SidecarContext, opts?: NetworkFilterChainOptions) => NetworkFilterChain;

// ---------- routing ----------

export interface RouteRequest {
  readonly method: string;
  /** Host / :authority as received, lower-cased. */
  readonly authority: string;
  /** Request target as received (origin-form path with query). */
  readonly path: string;
  readonly headers: HeaderMap;
}

export interface RouteMatch {
  readonly virtualHost: VirtualHostConfig;
  readonly route: RouteEntryConfig;
  /** For a forward action: the cluster chosen (weighted clusters drawn at random by weight); else null. */
  readonly clusterName: string | null;
  readonly weightedCluster: WeightedClusterConfig | null;
}

/** A compiled RouteConfiguration (virtual host lookup, then first matching route). */
export interface RouteTable {
  readonly config: RouteConfigData;
  match(req: RouteRequest): RouteMatch | null;
}

/** RDS: route tables by RouteConfiguration name, always the latest applied. */
export interface RouteProvider {
  get(routeConfigName: string): RouteTable | null;
}

// ---------- upstream ----------

export interface ClusterStats {
  readonly upstream_cx_total: Counter;
  readonly upstream_cx_active: Gauge;
  readonly upstream_cx_connect_fail: Counter;
  readonly upstream_cx_connect_timeout: Counter;
  readonly upstream_rq_total: Counter;
  readonly upstream_rq_active: Gauge;
  readonly upstream_rq_timeout: Counter;
  readonly upstream_rq_2xx: Counter;
  readonly upstream_rq_3xx: Counter;
  readonly upstream_rq_4xx: Counter;
  readonly upstream_rq_5xx: Counter;
  readonly upstream_cx_none_healthy: Counter;
  // circuit breakers (overflow = refused by a threshold)
  readonly upstream_cx_overflow: Counter;
  readonly upstream_rq_pending_total: Counter;
  readonly upstream_rq_pending_active: Gauge;
  readonly upstream_rq_pending_overflow: Counter;
  readonly upstream_rq_retry_overflow: Counter;
  // retries and resets
  readonly upstream_rq_retry: Counter;
  readonly upstream_rq_retry_success: Counter;
  readonly upstream_rq_retry_limit_exceeded: Counter;
  readonly upstream_rq_retry_backoff_exponential: Counter;
  readonly upstream_rq_per_try_timeout: Counter;
  readonly upstream_rq_per_try_idle_timeout: Counter;
  readonly upstream_rq_max_duration_reached: Counter;
  readonly upstream_rq_rx_reset: Counter;
  readonly upstream_rq_tx_reset: Counter;
  readonly upstream_cx_protocol_error: Counter;
  /** Picks made in panic mode (too few healthy hosts: all hosts used). */
  readonly lb_healthy_panic: Counter;
}

/** Why an endpoint does not serve; an endpoint serves when its flags are 0. */
export const HealthFlag = {
  /** EDS health_status UNHEALTHY, DRAINING or TIMEOUT. */
  FailedEds: 1,
  /** Active health checking marked it unhealthy (or it has not passed its first check). */
  FailedActiveHc: 2,
  /** Ejected by outlier detection. */
  FailedOutlierCheck: 4,
} as const;
export type HealthFlag = (typeof HealthFlag)[keyof typeof HealthFlag];

/** What outlier detection learns from each upstream exchange (Envoy's Result kinds). */
export const OutlierResult = {
  /** A connection to the endpoint could not be made (or timed out). */
  LocalOriginConnectFailed: 0,
  LocalOriginTimeout: 1,
  /** The connection was reset / closed before a response. */
  LocalOriginReset: 2,
  /** A connection succeeded (local-origin success). */
  LocalOriginConnectSuccess: 3,
  /** tcp_proxy's "connected" signal (counts as a 200 without split_external_local_origin_errors); the HTTP router does not send it. */
  LocalOriginConnectSuccessFinal: 4,
} as const;
export type OutlierResult = (typeof OutlierResult)[keyof typeof OutlierResult];

/** Per-endpoint recorder of results, read by the cluster's outlier detector on its interval. Cheap per call. */
export interface OutlierMonitor {
  /** An HTTP status from the upstream (gRPC: the status mapped from grpc-status is not used; Envoy semantics). */
  putHttpStatus(status: number): void;
  putResult(result: OutlierResult): void;
}

/** One endpoint of a cluster, shared by LB, connection pools and /clusters. */
export interface UpstreamEndpoint {
  /** 'address:port'. */
  readonly key: string;
  readonly address: SocketAddress;
  readonly clusterName: string;
  readonly weight: number;
  readonly labels: Readonly<Record<string, string>>;
  /** Requests in flight to this endpoint (kept by the router; read by LEAST_REQUEST). */
  activeRequests: number;
  /** Serves traffic: healthFlags === 0 (kept in step by the cluster). */
  healthy: boolean;
  /** HealthFlag bits; 0 = healthy. Changed only through UpstreamCluster.setHealthFlag. */
  healthFlags: number;
  /** EDS DEGRADED: used only when not enough healthy hosts (Envoy's degraded load). */
  degraded: boolean;
  /** EDS priority (0 = highest). */
  readonly priority: number;
  /** Set by the cluster when it runs outlier detection; null otherwise. */
  outlier: OutlierMonitor | null;
  /** Set when EDS removed it; pools close idle connections to it and stop reusing them. */
  removed: boolean;
  /** Counters shown on /clusters. */
  rqTotal: number;
  rqError: number;
  cxActive: number;
}

/** Per-request facts a load balancer may use (hash-based policies, retry host predicates). */
export interface LbContext {
  /** The request hash from the route's hash_policy (RING_HASH / MAGLEV); null = none (then a random pick). */
  computeHash(): bigint | null;
  /** A retry host predicate: true when `ep` should be avoided (e.g. already tried); the LB re-picks up to `hostSelectionRetryMaxAttempts` times. */
  shouldSelectAnotherHost(ep: UpstreamEndpoint): boolean;
  readonly hostSelectionRetryMaxAttempts: number;
}

/** One circuit-breaker resource: `count` in use against `max`. */
export interface ResourceLimit {
  readonly max: number;
  readonly count: number;
  canCreate(): boolean;
  inc(): void;
  dec(): void;
}

/** The circuit-breaker resources of one cluster and routing priority. */
export interface ClusterResources {
  readonly connections: ResourceLimit;
  readonly pendingRequests: ResourceLimit;
  readonly requests: ResourceLimit;
  readonly retries: ResourceLimit;
}

export interface UpstreamCluster {
  readonly name: string;
  readonly config: ClusterConfig;
  readonly stats: ClusterStats;
  /** The cluster's UpstreamTlsContext (mTLS to the destination's sidecar); null = plaintext. */
  readonly tls: ClientTlsContext | null;
  /**
   * Picks an endpoint by the cluster's LB policy among serving ones (priority load, panic threshold,
   * locality weights applied); null when none (and then counts upstream_cx_none_healthy).
   */
  pick(ctx: LbContext | null): UpstreamEndpoint | null;
  /** Current endpoints (for /clusters). */
  endpoints(): readonly UpstreamEndpoint[];
  /** Circuit-breaker resources for a routing priority. */
  resources(priority: 'DEFAULT' | 'HIGH'): ClusterResources;
  /** Sets or clears one health flag of an endpoint of this cluster and rebuilds the LB when serving changes. */
  setHealthFlag(ep: UpstreamEndpoint, flag: HealthFlag, on: boolean): void;
}

export interface ClusterManager {
  get(name: string): UpstreamCluster | null;
  all(): readonly UpstreamCluster[];
  /** Called for each endpoint that EDS/CDS removed (connection pools drop it). */
  onEndpointRemoved(fn: (ep: UpstreamEndpoint) => void): void;
}

// ---------- shared context ----------

export interface SidecarContext {
  readonly nodeId: string;
  readonly stats: StatsStore;
  readonly logger: Logger;
  /** Access log sink (pino, asynchronous). */
  readonly accessLogger: Logger;
  readonly clusters: ClusterManager;
  readonly routes: RouteProvider;
  /** Compiles an inline RouteConfiguration (HCM `route_config`) into a table. */
  readonly compileRouteTable: (config: RouteConfigData) => RouteTable;
  /** Upstream connection pools by protocol, shared by every listener (owned and closed by the sidecar). */
  readonly connPools: UpstreamConnPools;
  /** Certificates and trust bundles for TLS contexts (SDS, the workload identity, PEM files). */
  readonly secrets: SecretStore;
}

export interface UpstreamConnPools {
  readonly http1: ConnPool;
  readonly http2: ConnPool;
}

// ---------- xDS client → sidecar ----------

/**
 * Where the ADS client hands validated resources of one type. `upserts` are new or changed resources
 * (by name), `removals` names gone. Resolves to errors that make the update a NACK (e.g. a listener
 * whose port cannot be bound); resources that failed are not applied, the others are.
 */
export interface XdsSink {
  apply(typeUrl: string, upserts: ReadonlyMap<string, unknown>, removals: readonly string[]): Promise<string[]>;
}
