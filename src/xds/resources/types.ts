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
  /** listener_filters has envoy.filters.listener.tls_inspector: the first bytes are read for TLS, SNI and ALPN. */
  readonly tlsInspector: boolean;
  /** listener_filters_timeout (default 15 s; 0 = none) and what happens when it fires. */
  readonly listenerFiltersTimeoutMs: number;
  readonly continueOnListenerFiltersTimeout: boolean;
  /** The original resource as decoded (proto3 JSON shape), for /config_dump. */
  readonly raw: unknown;
}

export interface FilterChainMatchConfig {
  /** destination_port; null matches any port. */
  readonly destinationPort: number | null;
  /** server_names (lower-cased; `*.example.com` wildcards); empty matches any. */
  readonly serverNames: readonly string[];
  /** transport_protocol: 'tls' or 'raw_buffer' (set by tls_inspector); '' matches any. */
  readonly transportProtocol: '' | 'tls' | 'raw_buffer';
  /** application_protocols offered in the ClientHello (ALPN); empty matches any. */
  readonly applicationProtocols: readonly string[];
}

export interface FilterChainConfig {
  readonly name: string;
  readonly match: FilterChainMatchConfig;
  /** The terminal network filter (tcp_proxy or http_connection_manager). */
  readonly network: NetworkFilterConfig;
  /** envoy.filters.network.rbac filters before it, in order (each may close the connection). */
  readonly networkRbac: readonly NetworkRbacConfig[];
  /** transport_socket envoy.transport_sockets.tls; null = plaintext. */
  readonly tls: DownstreamTlsConfig | null;
  /** transport_socket_connect_timeout: TLS handshake limit (Tessera's default 10 s; 0 = none). */
  readonly handshakeTimeoutMs: number;
}
import type { DownstreamTlsConfig, UpstreamTlsConfig } from './tls.js';

export type NetworkFilterConfig = TcpProxyConfig | HcmConfig;
export type { NetworkRbacConfig } from './filters/rbac.js';
import type { NetworkRbacConfig } from './filters/rbac.js';

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
  /** http2_protocol_options for downstream HTTP/2; defaults after Envoy's edge guidance (see Http2ProtocolConfig). */
  readonly http2: Http2ProtocolConfig;
  /** common_http_protocol_options.max_stream_duration; 0 = none. */
  readonly maxStreamDurationMs: number;
  /** forward_client_cert_details: what happens to x-forwarded-client-cert (default SANITIZE: removed). */
  readonly forwardClientCertDetails: 'SANITIZE' | 'FORWARD_ONLY' | 'APPEND_FORWARD' | 'SANITIZE_SET' | 'ALWAYS_FORWARD_ONLY';
  /** set_current_client_cert_details: the fields of the verified peer certificate added (Hash and By always). */
  readonly setCurrentClientCertDetails: { readonly subject: boolean; readonly cert: boolean; readonly chain: boolean; readonly dns: boolean; readonly uri: boolean };
}

/**
 * envoy.config.core.v3.Http2ProtocolOptions, the subset Tessera honours. Downstream defaults follow Envoy's
 * edge guidance (100 streams, 64 KiB stream window, 1 MiB connection window); upstream defaults are Envoy's.
 */
export interface Http2ProtocolConfig {
  readonly maxConcurrentStreams: number;
  readonly initialStreamWindowSize: number;
  readonly initialConnectionWindowSize: number;
  /** max_outbound_frames (default 10000): frames queued to a peer before the connection is closed. */
  readonly maxOutboundFrames: number;
  /** max_outbound_control_frames (default 1000): PING/SETTINGS/RST acks queued before the connection is closed. */
  readonly maxOutboundControlFrames: number;
  /** max_consecutive_inbound_frames_with_empty_payload (default 1). */
  readonly maxConsecutiveInboundFramesWithEmptyPayload: number;
  /** max_inbound_priority_frames_per_stream (default 100). */
  readonly maxInboundPriorityFramesPerStream: number;
  /** max_inbound_window_update_frames_per_data_frame_sent (default 10). */
  readonly maxInboundWindowUpdateFramesPerDataFrameSent: number;
}

/** envoy.type.v3.FractionalPercent normalised to parts per million (0..1_000_000). */
export type PerMillion = number;

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
  /** require_tls EXTERNAL_ONLY or ALL: requests not over TLS are redirected to https (Tessera treats both alike). */
  readonly requireTls: boolean;
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
  /** The route's retry_policy, else the virtual host's; null = no retries. */
  readonly retryPolicy: RetryPolicyConfig | null;
  /** hash_policy for RING_HASH / MAGLEV clusters (evaluated in order). */
  readonly hashPolicy: readonly HashPolicyConfig[];
  /** max_stream_duration.max_stream_duration; null = none. */
  readonly maxStreamDurationMs: number | null;
  /** max_stream_duration.grpc_timeout_header_max: null = grpc-timeout ignored; 0 = honoured without cap. */
  readonly grpcTimeoutHeaderMaxMs: number | null;
  /** max_stream_duration.grpc_timeout_header_offset subtracted from grpc-timeout; 0 default. */
  readonly grpcTimeoutHeaderOffsetMs: number;
  /** priority: circuit-breaker thresholds used (DEFAULT or HIGH). */
  readonly priority: 'DEFAULT' | 'HIGH';
  /** The route's, else the virtual host's per_request_buffer_limit_bytes: request bytes kept for retries; null = listener limit. */
  readonly perRequestBufferLimitBytes: number | null;
}

/** Envoy retry_on conditions Tessera implements. */
export type RetryOn =
  | '5xx' | 'gateway-error' | 'reset' | 'connect-failure' | 'refused-stream' | 'retriable-4xx'
  | 'retriable-status-codes' | 'cancelled' | 'deadline-exceeded' | 'internal' | 'resource-exhausted' | 'unavailable'
  | 'envoy-ratelimited' | 'http3-post-connect-failure' | 'reset-before-request';

export interface RetryPolicyConfig {
  readonly retryOn: readonly RetryOn[];
  /** num_retries; default 1. */
  readonly numRetries: number;
  /** per_try_timeout; 0 = none (the route timeout still applies). */
  readonly perTryTimeoutMs: number;
  /** per_try_idle_timeout; 0 = none. */
  readonly perTryIdleTimeoutMs: number;
  readonly retriableStatusCodes: readonly number[];
  /** retry_back_off: base 25 ms, max 10× base (250 ms) by default; fully jittered exponential. */
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** retry_host_predicate envoy.retry_host_predicates.previous_hosts: avoid hosts already tried. */
  readonly previousHostsPredicate: boolean;
  /** host_selection_retry_max_attempts; default 1. */
  readonly hostSelectionRetryMaxAttempts: number;
}

export type HashPolicyConfig =
  | { readonly kind: 'header'; readonly name: string; readonly terminal: boolean }
  /** ttlMs null: hash the cookie only if present; set: generate the cookie when absent (sticky sessions). */
  | { readonly kind: 'cookie'; readonly name: string; readonly ttlMs: number | null; readonly path: string; readonly terminal: boolean }
  | { readonly kind: 'source_ip'; readonly terminal: boolean }
  | { readonly kind: 'query_parameter'; readonly name: string; readonly terminal: boolean };

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
  readonly lbPolicy: 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'RING_HASH' | 'MAGLEV';
  /** least_request_lb_config.choice_count; default 2. */
  readonly leastRequestChoiceCount: number;
  /** For STATIC clusters (load_assignment); null for EDS. */
  readonly loadAssignment: EndpointsConfig | null;
  /** common_http_protocol_options.idle_timeout for upstream connections; default 1 h. */
  readonly upstreamIdleTimeoutMs: number;
  /** common_http_protocol_options.max_requests_per_connection; 0 = unlimited. */
  readonly maxRequestsPerConnection: number;
  readonly perConnectionBufferLimitBytes: number;
  /** RING_HASH: ring_hash_lb_config (defaults 1024 / 8M). */
  readonly ringHash: { readonly minRingSize: number; readonly maxRingSize: number };
  /** MAGLEV: maglev_lb_config.table_size (prime; default 65537). */
  readonly maglevTableSize: number;
  /** common_lb_config.healthy_panic_threshold percent (default 50; 0 disables panic mode). */
  readonly healthyPanicThresholdPercent: number;
  /** common_lb_config.locality_weighted_lb_config set: pick a locality by weight, then a host in it. */
  readonly localityWeightedLb: boolean;
  /** circuit_breakers.thresholds by priority (Envoy defaults 1024/1024/1024/3 when unset). */
  readonly circuitBreakers: { readonly default: CircuitBreakerThresholds; readonly high: CircuitBreakerThresholds };
  readonly outlierDetection: OutlierDetectionConfig | null;
  readonly healthChecks: readonly HealthCheckConfig[];
  /** From typed_extension_protocol_options envoy.extensions.upstreams.http.v3.HttpProtocolOptions. */
  readonly upstreamProtocol: 'http1' | 'http2' | 'downstream';
  /** Upstream HTTP/2 options (explicit or use_downstream http2_protocol_options); Envoy's defaults. */
  readonly http2: Http2ProtocolConfig;
  /** transport_socket envoy.transport_sockets.tls; null = plaintext. */
  readonly tls: UpstreamTlsConfig | null;
  readonly raw: unknown;
}

export interface CircuitBreakerThresholds {
  readonly maxConnections: number;
  readonly maxPendingRequests: number;
  readonly maxRequests: number;
  readonly maxRetries: number;
  /** retry_budget: active retries may be budgetPercent % of active requests, at least minRetryConcurrency; null = maxRetries applies. */
  readonly retryBudget: { readonly budgetPercent: number; readonly minRetryConcurrency: number } | null;
}

/** envoy.config.cluster.v3.OutlierDetection with Envoy's defaults. Percentages 0..100; times in ms. */
export interface OutlierDetectionConfig {
  readonly consecutive5xx: number; // 5
  readonly consecutiveGatewayFailure: number; // 5
  readonly consecutiveLocalOriginFailure: number; // 5
  readonly intervalMs: number; // 10000
  readonly baseEjectionTimeMs: number; // 30000
  readonly maxEjectionTimeMs: number; // 300000
  readonly maxEjectionTimeJitterMs: number; // 0
  readonly maxEjectionPercent: number; // 10
  readonly enforcingConsecutive5xx: number; // 100
  readonly enforcingConsecutiveGatewayFailure: number; // 0
  readonly enforcingConsecutiveLocalOriginFailure: number; // 100
  readonly enforcingSuccessRate: number; // 100
  readonly enforcingLocalOriginSuccessRate: number; // 100
  readonly successRateMinimumHosts: number; // 5
  readonly successRateRequestVolume: number; // 100
  readonly successRateStdevFactor: number; // 1900 (divided by 1000)
  readonly failurePercentageThreshold: number; // 85
  readonly enforcingFailurePercentage: number; // 0
  readonly enforcingFailurePercentageLocalOrigin: number; // 0
  readonly failurePercentageMinimumHosts: number; // 5
  readonly failurePercentageRequestVolume: number; // 50
  /** split_external_local_origin_errors (default false: local-origin failures count as 5xx). */
  readonly splitExternalLocalOriginErrors: boolean;
  /** always_eject_one_host (default false): eject one host even when max_ejection_percent would forbid it. */
  readonly alwaysEjectOneHost: boolean;
}

/** envoy.config.core.v3.HealthCheck (HTTP, TCP, gRPC). */
export interface HealthCheckConfig {
  readonly timeoutMs: number;
  readonly intervalMs: number;
  readonly intervalJitterMs: number;
  readonly intervalJitterPercent: number;
  readonly unhealthyThreshold: number;
  readonly healthyThreshold: number;
  /** no_traffic_interval (default 60 s) — Tessera checks at `intervalMs` always (documented). */
  readonly noTrafficIntervalMs: number;
  /** unhealthy_interval; null = intervalMs. */
  readonly unhealthyIntervalMs: number | null;
  /** healthy_edge_interval / unhealthy_edge_interval; null = the regular interval. */
  readonly unhealthyEdgeIntervalMs: number | null;
  readonly healthyEdgeIntervalMs: number | null;
  /** always_log_health_check_failures. */
  readonly alwaysLogFailures: boolean;
  readonly check:
    | {
        readonly kind: 'http';
        /** host; '' = the cluster name. */
        readonly host: string;
        readonly path: string;
        /** expected_statuses as [start, end) ranges; default [[200, 201)]. */
        readonly expectedStatuses: readonly (readonly [number, number])[];
        readonly requestHeadersToAdd: readonly HeaderValueOptionConfig[];
        readonly codec: 'HTTP1' | 'HTTP2';
      }
    | {
        readonly kind: 'tcp';
        /** send payload (null = connect only); receive: every payload must appear in the response, in order. */
        readonly send: Buffer | null;
        readonly receive: readonly Buffer[];
      }
    | { readonly kind: 'grpc'; readonly serviceName: string; readonly authority: string };
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
  /** policy.overprovisioning_factor as a percentage (default 140). */
  readonly overprovisioningFactor: number;
  readonly raw: unknown;
}

// ---------- HTTP filters ----------

/** envoy.extensions.filters.http.fault.v3.HTTPFault (delay and abort; response_rate_limit not supported). */
export interface FaultConfig {
  readonly delay: {
    readonly fixedDelayMs: number;
    readonly percentage: PerMillion;
    /** Parts per million per numerator step of the configured denominator (HUNDRED 10000, TEN_THOUSAND 100, MILLION 1). */
    readonly percentageUnit: number;
    /** header_delay: the request's x-envoy-fault-delay-request (ms) decides, capped by percentage. */
    readonly headerDelay: boolean;
  } | null;
  readonly abort: {
    /** Exactly one of httpStatus / grpcStatus unless headerAbort. */
    readonly httpStatus: number | null;
    readonly grpcStatus: number | null;
    readonly percentage: PerMillion;
    readonly percentageUnit: number;
    /** header_abort: x-envoy-fault-abort-request / x-envoy-fault-abort-grpc-request decide. */
    readonly headerAbort: boolean;
  } | null;
  /** headers: all must match for the fault to apply. */
  readonly headers: readonly HeaderMatcherConfig[];
  /** upstream_cluster: only requests routed there; null = any. */
  readonly upstreamCluster: string | null;
  /** max_active_faults; null = unlimited. */
  readonly maxActiveFaults: number | null;
}
