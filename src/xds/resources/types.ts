// Validated, frozen configs the sidecar builds from xDS resources (the subset it honours).
// Producers: src/xds/resources/<type>.ts (decode + validate). Consumers: sidecar listener/router/upstream.
// Durations are milliseconds (number); 0 means "disabled" where Envoy says so; null means "not set".

export interface SocketAddress {
  readonly address: string; // IP literal or hostname (STATIC clusters only resolve IP literals)
  readonly port: number;
}

// ---------- LDS ----------

export interface ListenerConfig {
  readonly name: string;
  /** null for an api_listener (for proxyless gRPC clients); the sidecar does not bind those. */
  readonly address: SocketAddress | null;
  readonly filterChains: readonly FilterChainConfig[];
  readonly defaultFilterChain: FilterChainConfig | null;
  /** Envoy's per_connection_buffer_limit_bytes (default 1 MiB). */
  readonly perConnectionBufferLimitBytes: number;
  /** The original resource as decoded (proto3 JSON shape), for /config_dump. */
  readonly raw: unknown;
}

export interface FilterChainMatchConfig {
  /** destination_port; null matches any port. */
  readonly destinationPort: number | null;
}

export interface FilterChainConfig {
  readonly name: string;
  readonly match: FilterChainMatchConfig;
  /** The terminal network filter (tcp_proxy or http_connection_manager). */
  readonly network: NetworkFilterConfig;
}

export type NetworkFilterConfig = TcpProxyConfig | HcmConfig;

export interface WeightedClusterRef {
  readonly name: string;
  readonly weight: number;
}

export interface TcpProxyConfig {
  readonly kind: 'tcp_proxy';
  readonly statPrefix: string;
  /** Exactly one of cluster / weightedClusters is set. */
  readonly cluster: string | null;
  readonly weightedClusters: readonly WeightedClusterRef[] | null;
  /** idle_timeout; Envoy default 1 h; 0 disables. */
  readonly idleTimeoutMs: number;
  readonly maxConnectAttempts: number; // default 1
}

export interface HcmConfig {
  readonly kind: 'http_connection_manager';
  readonly statPrefix: string;
  readonly codecType: 'AUTO' | 'HTTP1' | 'HTTP2';
  /** rds.route_config_name when routes come over RDS; null when inline (routeConfig set). */
  readonly rdsRouteConfigName: string | null;
  readonly routeConfig: RouteConfigData | null;
  /** http_filters other than the terminal router, in order (empty in the foundation). */
  readonly httpFilters: readonly HttpFilterRef[];
  /** request_timeout (whole request received); 0 = disabled (Envoy default). */
  readonly requestTimeoutMs: number;
  /** request_headers_timeout; 0 = disabled; Tessera's edge default is 10 s (set by the validator when unset). */
  readonly requestHeadersTimeoutMs: number;
  /** stream_idle_timeout; default 5 min. */
  readonly streamIdleTimeoutMs: number;
  /** common_http_protocol_options.idle_timeout (connection idle); default 1 h. */
  readonly idleTimeoutMs: number;
  /** common_http_protocol_options.max_headers_count; default 100. */
  readonly maxHeadersCount: number;
  /** max_request_headers_kb; default 60. */
  readonly maxRequestHeadersKb: number;
  /** drain_timeout; default 5 s. */
  readonly drainTimeoutMs: number;
  readonly useRemoteAddress: boolean;
  readonly xffNumTrustedHops: number;
  /** generate_request_id; default true. */
  readonly generateRequestId: boolean;
  /** preserve_external_request_id; default false. */
  readonly preserveExternalRequestId: boolean;
  /** via header value to append on requests and responses; '' = none. */
  readonly via: string;
  readonly serverName: string; // default 'tessera'
  /** http_protocol_options.accept_http_10 (default false → 426). */
  readonly acceptHttp10: boolean;
  /** upgrade_configs: upgrade types allowed (lower-case, e.g. 'websocket'). */
  readonly upgradeTypes: readonly string[];
  /** normalize_path / merge_slashes. */
  readonly normalizePath: boolean;
  readonly mergeSlashes: boolean;
}

export interface HttpFilterRef {
  readonly name: string;
  readonly typeUrl: string;
  readonly config: unknown;
}

// ---------- RDS ----------

export interface HeaderValueOptionConfig {
  readonly key: string; // lower-cased
  readonly value: string;
  /** APPEND_IF_EXISTS_OR_ADD (default), ADD_IF_ABSENT, OVERWRITE_IF_EXISTS_OR_ADD, OVERWRITE_IF_EXISTS. */
  readonly action: 'APPEND_IF_EXISTS_OR_ADD' | 'ADD_IF_ABSENT' | 'OVERWRITE_IF_EXISTS_OR_ADD' | 'OVERWRITE_IF_EXISTS';
}

export interface HeaderMutationsConfig {
  readonly requestHeadersToAdd: readonly HeaderValueOptionConfig[];
  readonly requestHeadersToRemove: readonly string[]; // lower-cased
  readonly responseHeadersToAdd: readonly HeaderValueOptionConfig[];
  readonly responseHeadersToRemove: readonly string[];
}

export interface RouteConfigData extends HeaderMutationsConfig {
  readonly name: string;
  readonly virtualHosts: readonly VirtualHostConfig[];
  readonly raw: unknown;
}

export interface VirtualHostConfig extends HeaderMutationsConfig {
  readonly name: string;
  /** Envoy domain forms: exact, '*', '*.suffix', 'prefix.*'; lower-cased; may carry ':port'. */
  readonly domains: readonly string[];
  readonly routes: readonly RouteEntryConfig[];
}

export type StringMatchConfig =
  | { readonly kind: 'exact'; readonly value: string; readonly ignoreCase: boolean }
  | { readonly kind: 'prefix'; readonly value: string; readonly ignoreCase: boolean }
  | { readonly kind: 'suffix'; readonly value: string; readonly ignoreCase: boolean }
  | { readonly kind: 'contains'; readonly value: string; readonly ignoreCase: boolean }
  | { readonly kind: 'regex'; readonly regex: string }; // whole-string match (anchored by the consumer)

export interface HeaderMatcherConfig {
  readonly name: string; // lower-cased; ':method', ':authority', ':path', ':scheme' allowed
  readonly invert: boolean;
  /** present_match true ⇒ kind 'present'; range ⇒ 'range'; else a string match. */
  readonly match:
    | { readonly kind: 'present'; readonly present: boolean }
    | { readonly kind: 'range'; readonly start: number; readonly end: number } // [start, end)
    | { readonly kind: 'string'; readonly string: StringMatchConfig };
}

export interface QueryParameterMatcherConfig {
  readonly name: string;
  /** null ⇒ present_match (the parameter must be present). */
  readonly string: StringMatchConfig | null;
}

export interface RouteMatchConfig {
  readonly path:
    | { readonly kind: 'prefix'; readonly value: string }
    | { readonly kind: 'path'; readonly value: string }
    | { readonly kind: 'safe_regex'; readonly regex: string } // whole-path match
    | { readonly kind: 'path_separated_prefix'; readonly value: string };
  /** case_sensitive; default true. */
  readonly caseSensitive: boolean;
  readonly headers: readonly HeaderMatcherConfig[];
  readonly queryParameters: readonly QueryParameterMatcherConfig[];
}

export interface WeightedClusterConfig extends HeaderMutationsConfig {
  readonly name: string;
  readonly weight: number;
}

export interface ForwardActionConfig {
  readonly kind: 'route';
  /** Exactly one of cluster / weightedClusters. */
  readonly cluster: string | null;
  readonly weightedClusters: readonly WeightedClusterConfig[] | null;
  readonly prefixRewrite: string | null;
  readonly regexRewrite: { readonly regex: string; readonly substitution: string } | null;
  readonly hostRewriteLiteral: string | null;
  readonly autoHostRewrite: boolean;
  /** route timeout; Envoy default 15 s; 0 disables. */
  readonly timeoutMs: number;
  /** idle_timeout of the stream on this route; null = use HCM stream idle timeout. */
  readonly idleTimeoutMs: number | null;
  /** upgrade_configs enabled on this route (lower-case types); null = inherit HCM. */
  readonly upgradeTypes: readonly string[] | null;
}

export interface RedirectActionConfig {
  readonly kind: 'redirect';
  readonly httpsRedirect: boolean;
  readonly schemeRedirect: string | null;
  readonly hostRedirect: string | null;
  readonly portRedirect: number | null;
  readonly pathRedirect: string | null;
  readonly prefixRewrite: string | null;
  /** MOVED_PERMANENTLY 301 (default), FOUND 302, SEE_OTHER 303, TEMPORARY_REDIRECT 307, PERMANENT_REDIRECT 308. */
  readonly responseCode: number;
  readonly stripQuery: boolean;
}

export interface DirectResponseActionConfig {
  readonly kind: 'direct_response';
  readonly status: number;
  readonly body: string | null;
}

export interface RouteEntryConfig extends HeaderMutationsConfig {
  readonly name: string;
  readonly match: RouteMatchConfig;
  readonly action: ForwardActionConfig | RedirectActionConfig | DirectResponseActionConfig;
}

// ---------- CDS / EDS ----------

export interface ClusterConfig {
  readonly name: string;
  readonly type: 'STATIC' | 'EDS';
  /** eds_cluster_config.service_name, or the cluster name when unset. */
  readonly edsServiceName: string;
  /** connect_timeout; Envoy default 5 s. */
  readonly connectTimeoutMs: number;
  readonly lbPolicy: 'ROUND_ROBIN' | 'LEAST_REQUEST';
  /** least_request_lb_config.choice_count; default 2. */
  readonly leastRequestChoiceCount: number;
  /** For STATIC clusters (load_assignment); null for EDS. */
  readonly loadAssignment: EndpointsConfig | null;
  /** common_http_protocol_options.idle_timeout for upstream connections; default 1 h. */
  readonly upstreamIdleTimeoutMs: number;
  /** common_http_protocol_options.max_requests_per_connection; 0 = unlimited. */
  readonly maxRequestsPerConnection: number;
  readonly perConnectionBufferLimitBytes: number;
  readonly raw: unknown;
}

export type HealthStatus = 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY' | 'DRAINING' | 'TIMEOUT' | 'DEGRADED';

export interface LbEndpointConfig {
  readonly address: SocketAddress;
  readonly healthStatus: HealthStatus;
  readonly weight: number; // load_balancing_weight, default 1
  /** filter_metadata['envoy.lb'] (string values only), used for subsets; {} when unset. */
  readonly labels: Readonly<Record<string, string>>;
}

export interface LocalityEndpointsConfig {
  readonly locality: { readonly region: string; readonly zone: string; readonly subZone: string };
  readonly weight: number;
  readonly priority: number;
  readonly endpoints: readonly LbEndpointConfig[];
}

export interface EndpointsConfig {
  readonly clusterName: string;
  readonly localities: readonly LocalityEndpointsConfig[];
  readonly raw: unknown;
}
