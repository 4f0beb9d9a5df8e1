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
  /** From EDS health_status (HEALTHY/UNKNOWN ⇒ true). */
  healthy: boolean;
  /** Set when EDS removed it; pools close idle connections to it and stop reusing them. */
  removed: boolean;
  /** Counters shown on /clusters. */
  rqTotal: number;
  rqError: number;
  cxActive: number;
}

export interface UpstreamCluster {
  readonly name: string;
  readonly config: ClusterConfig;
  readonly stats: ClusterStats;
  /** Picks an endpoint by the cluster's LB policy among healthy ones; null when none (and then counts upstream_cx_none_healthy). */
  pick(): UpstreamEndpoint | null;
  /** Current endpoints (for /clusters). */
  endpoints(): readonly UpstreamEndpoint[];
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
