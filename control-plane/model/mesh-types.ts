// The validated, frozen mesh config (what mesh.yaml means) and the World built from it. Producer: parse-mesh.ts.
// Durations are milliseconds. Header names are lower-cased. Label maps keep the file's key order.

/** http2 and grpc: HTTP/2 (h2c) to the app and between sidecars; grpc also changes the route timeout defaults. */
export type Protocol = 'http' | 'http2' | 'grpc' | 'tcp';
export type LbPolicyName = 'round_robin' | 'least_request' | 'random' | 'ring_hash' | 'maglev';
export type Labels = Readonly<Record<string, string>>;

/** True for the protocols whose traffic goes through an HTTP connection manager (everything but tcp). */
export function isHttpProtocol(p: Protocol): boolean {
  return p !== 'tcp';
}

/** What a consistent-hash policy (ring_hash, maglev) hashes; becomes the route's hash_policy. */
export type HashOn =
  | { readonly kind: 'header'; readonly name: string }
  /** ttlMs null: hash the cookie only when present; set (0 = session cookie): the proxy generates it when absent. */
  | { readonly kind: 'cookie'; readonly name: string; readonly ttlMs: number | null; readonly path: string | null }
  | { readonly kind: 'source_ip' }
  | { readonly kind: 'query_parameter'; readonly name: string };

export interface LbConfig {
  readonly policy: LbPolicyName;
  /** Only with ring_hash or maglev. */
  readonly hashOn: HashOn | null;
  /** common_lb_config.healthy_panic_threshold (0-100); null = Envoy's 50. */
  readonly panicThresholdPercent: number | null;
  readonly localityWeighted: boolean;
}

/** circuit_breakers.thresholds[DEFAULT]; null fields keep Envoy's defaults (1024, 1024, 1024, 3). */
export interface CircuitBreakerPolicy {
  readonly maxConnections: number | null;
  readonly maxPendingRequests: number | null;
  readonly maxRequests: number | null;
  readonly maxRetries: number | null;
  readonly retryBudget: { readonly percent: number | null; readonly minConcurrency: number | null } | null;
}

/**
 * Outlier detection with explicit detectors: each detector that is configured is enforced (100 % unless
 * `enforcing` says otherwise), each one left out is off. Durations in ms; null keeps Envoy's default.
 */
export interface OutlierDetectionPolicy {
  readonly consecutive5xx: number | null;
  readonly consecutiveGatewayFailure: number | null;
  readonly consecutiveLocalOriginFailure: number | null;
  readonly splitExternalLocalOriginErrors: boolean;
  readonly intervalMs: number | null;
  readonly baseEjectionTimeMs: number | null;
  readonly maxEjectionTimeMs: number | null;
  readonly maxEjectionTimeJitterMs: number | null;
  readonly maxEjectionPercent: number | null;
  readonly successRate: {
    readonly minimumHosts: number | null;
    readonly requestVolume: number | null;
    /** Envoy's stdev factor × 1000 (1.9 → 1900). */
    readonly stdevFactor: number | null;
    readonly enforcing: number;
  } | null;
  readonly failurePercentage: {
    readonly threshold: number | null;
    readonly minimumHosts: number | null;
    readonly requestVolume: number | null;
    readonly enforcing: number;
  } | null;
}

export type HealthCheckKind =
  | {
      readonly kind: 'http';
      readonly path: string;
      readonly host: string | null;
      /** [start, end) ranges. */
      readonly expectedStatuses: readonly (readonly [number, number])[];
    }
  | { readonly kind: 'tcp' }
  | { readonly kind: 'grpc'; readonly service: string | null; readonly authority: string | null };

export interface HealthCheckPolicy {
  readonly check: HealthCheckKind;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
}

export const RETRY_ON = [
  '5xx',
  'gateway-error',
  'reset',
  'connect-failure',
  'refused-stream',
  'retriable-4xx',
  'retriable-status-codes',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
] as const;
export type RetryOnCondition = (typeof RETRY_ON)[number];

/** A route's retry_policy. */
export interface RetryPolicy {
  /** num_retries: retries after the first try. */
  readonly attempts: number;
  readonly retryOn: readonly RetryOnCondition[];
  /** null: no per-try timeout (the route timeout still applies). */
  readonly perTryTimeoutMs: number | null;
  readonly retriableStatusCodes: readonly number[];
  readonly backoff: { readonly baseMs: number; readonly maxMs: number | null } | null;
  /** retry_host_predicate previous_hosts + host_selection_retry_max_attempts. */
  readonly preferOtherHosts: boolean;
}

/** A fault to inject on a rule's traffic; percentages in parts per million (0-1000000). */
export interface FaultPolicy {
  readonly delay: { readonly fixedMs: number; readonly perMillion: number } | null;
  readonly abort: { readonly httpStatus: number | null; readonly grpcStatus: number | null; readonly perMillion: number } | null;
}

export interface InstanceConfig {
  /** Node id of this instance's sidecar; unique across services and gateways. */
  readonly id: string;
  readonly address: string; // IP literal
  readonly port: number; // the app's port
  /** The sidecar's inbound port; null when the instance has no inbound sidecar listener. */
  readonly sidecarPort: number | null;
  readonly labels: Labels;
}

export interface DependencyConfig {
  readonly service: string;
  /** The outbound listener 127.0.0.1:port on each sidecar of the depending service. */
  readonly port: number;
}

/** How a service's sidecars accept inbound mesh traffic (Istio's PeerAuthentication modes). */
export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';
export const MTLS_MODES: readonly MtlsMode[] = ['STRICT', 'PERMISSIVE', 'DISABLE'];

/** The workload identity of a service's (or gateway's) proxies: spiffe://<trust-domain>/ns/<namespace>/sa/<serviceAccount>. */
export interface WorkloadIdentity {
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** Who a rule of an authorization policy lets in (one `from` entry). */
export type AuthzSource =
  /** The exact SPIFFE ID of that service's identity. */
  | { readonly kind: 'service'; readonly service: string }
  /** The exact SPIFFE ID of that gateway's identity. */
  | { readonly kind: 'gateway'; readonly gateway: string }
  /** An exact SPIFFE ID. */
  | { readonly kind: 'principal'; readonly principal: string }
  /** Any identity in the namespace (prefix spiffe://<td>/ns/<namespace>/). */
  | { readonly kind: 'namespace'; readonly namespace: string }
  /** The connection's peer address (CIDR). */
  | { readonly kind: 'ip'; readonly address: string; readonly prefixLen: number };

/** What a rule covers (one `to` entry); every non-empty list must match, entries within a list are alternatives. */
export interface AuthzOperation {
  /** `/api/*` is a prefix (`/api/`), anything else exact. */
  readonly paths: readonly { readonly kind: 'prefix' | 'exact'; readonly value: string }[];
  /** Upper-case HTTP methods. */
  readonly methods: readonly string[];
  /** Sidecar inbound ports (the destination port of the connection). */
  readonly ports: readonly number[];
}

export interface AuthzRule {
  /** Alternatives; empty = anyone. */
  readonly from: readonly AuthzSource[];
  /** Alternatives; empty = anything. */
  readonly to: readonly AuthzOperation[];
}

/** Envoy RBAC on the service's inbound listener: ALLOW lets in only what a rule matches, DENY refuses it. */
export interface AuthorizationPolicy {
  readonly action: 'ALLOW' | 'DENY';
  readonly rules: readonly AuthzRule[];
}

export interface ServiceConfig {
  readonly name: string;
  readonly protocol: Protocol;
  readonly identity: WorkloadIdentity;
  /** null: the mesh's `mtls`. */
  readonly mtls: MtlsMode | null;
  readonly authorization: AuthorizationPolicy | null;
  readonly lb: LbConfig;
  readonly connectTimeoutMs: number;
  readonly instances: readonly InstanceConfig[];
  readonly dependencies: readonly DependencyConfig[];
  readonly circuitBreaker: CircuitBreakerPolicy | null;
  readonly outlierDetection: OutlierDetectionPolicy | null;
  readonly healthCheck: HealthCheckPolicy | null;
}

export type StringMatchKind = 'exact' | 'prefix' | 'suffix' | 'regex';

export interface StringMatch {
  readonly kind: StringMatchKind;
  readonly value: string;
}

export interface HeaderMatch {
  readonly name: string;
  /** null: the header must be present. */
  readonly match: StringMatch | null;
  readonly invert: boolean;
}

export interface QueryMatch {
  readonly name: string;
  /** null: the parameter must be present. */
  readonly match: StringMatch | null;
}

export interface RouteMatch {
  readonly path: { readonly kind: 'prefix' | 'path' | 'regex'; readonly value: string };
  readonly headers: readonly HeaderMatch[];
  readonly query: readonly QueryMatch[];
  /** Upper-case HTTP methods; empty matches any method. */
  readonly methods: readonly string[];
}

export interface Destination {
  readonly service: string;
  /** Labels an instance must carry; null targets the whole service. */
  readonly subset: Labels | null;
  /** null only when the rule has a single destination. */
  readonly weight: number | null;
}

export interface HeaderOps {
  /** Appended (APPEND_IF_EXISTS_OR_ADD). */
  readonly add: Readonly<Record<string, string>>;
  /** Replacing (OVERWRITE_IF_EXISTS_OR_ADD). */
  readonly set: Readonly<Record<string, string>>;
  readonly remove: readonly string[];
}

export interface ForwardAction {
  readonly kind: 'forward';
  readonly destinations: readonly Destination[];
  readonly rewritePrefix: string | null;
  readonly rewriteHost: string | null;
  /** 0 disables the route timeout. */
  readonly timeoutMs: number;
  readonly retries: RetryPolicy | null;
  /** max_stream_duration.max_stream_duration; null = none. */
  readonly maxStreamDurationMs: number | null;
  /** max_stream_duration.grpc_timeout_header_max: null = grpc-timeout ignored, 0 = honoured without a cap. */
  readonly grpcTimeoutHeaderMaxMs: number | null;
  readonly fault: FaultPolicy | null;
}

export type RedirectCode = 301 | 302 | 303 | 307 | 308;

export interface RedirectAction {
  readonly kind: 'redirect';
  readonly path: string | null;
  readonly prefix: string | null;
  readonly host: string | null;
  readonly scheme: string | null;
  readonly port: number | null;
  readonly https: boolean;
  readonly code: RedirectCode;
}

export interface DirectResponseAction {
  readonly kind: 'direct_response';
  readonly status: number;
  readonly body: string | null;
}

export type RuleAction = ForwardAction | RedirectAction | DirectResponseAction;

/** End-user authentication of a gateway route: a JWT from one of `jwt`, and/or an API key. */
export interface RouteAuth {
  /** Provider names, any of which may vouch for the request; empty = no JWT needed. */
  readonly jwt: readonly string[];
  /** A request without any credential passes (one that carries a bad one still fails). */
  readonly allowMissing: boolean;
  /** null = no API key needed; an empty list = any consumer. */
  readonly apiKey: { readonly allowedConsumers: readonly string[] } | null;
}

export interface RouteRule {
  readonly name: string | null;
  readonly match: RouteMatch;
  readonly action: RuleAction;
  readonly requestHeaders: HeaderOps;
  readonly responseHeaders: HeaderOps;
  /** Gateway routes only; null = open. */
  readonly auth: RouteAuth | null;
}

export interface RouteSet {
  /** The destination service these rules apply to (sidecar outbound and proxyless clients). */
  readonly service: string;
  readonly rules: readonly RouteRule[];
}

export interface ListenAddress {
  readonly address: string;
  readonly port: number;
}

/** One certificate of a gateway's HTTPS listener and the host names (SNI) it serves. */
export interface TlsHostGroup {
  /** The SDS secret name is `<gateway>/<credential>`; the credential is the group's first host. */
  readonly credential: string;
  /** Lower-case host names, `*.example.com` wildcards allowed. */
  readonly hosts: readonly string[];
  /** PEM certificate chain and private key, read from cert_file / key_file when the config was loaded. */
  readonly certChainPem: string;
  readonly keyPem: string;
}

export interface GatewayTls {
  /** The first group also serves clients that send no (or an unknown) SNI. */
  readonly hosts: readonly TlsHostGroup[];
  /** A plain-HTTP listener answering every request with a redirect to https. */
  readonly httpRedirectListen: ListenAddress | null;
  readonly hsts: { readonly maxAgeSeconds: number; readonly includeSubdomains: boolean; readonly preload: boolean } | null;
}

/** A JWT issuer a gateway accepts (envoy.filters.http.jwt_authn provider). */
export interface JwtProvider {
  readonly name: string;
  /** null: any issuer. */
  readonly issuer: string | null;
  readonly audiences: readonly string[];
  /** `inline`: the JWKS JSON (from `jwks` or `jwks_file`); `remote`: fetched by the proxy. */
  readonly jwks:
    | { readonly kind: 'inline'; readonly json: string }
    | { readonly kind: 'remote'; readonly uri: string; readonly cacheDurationMs: number | null; readonly timeoutMs: number };
  /** Keep the token in the request sent upstream. */
  readonly forward: boolean;
  readonly forwardPayloadHeader: string | null;
  readonly claimToHeaders: readonly { readonly header: string; readonly claim: string }[];
  /** Empty with `fromParams` empty: Envoy's default (Authorization: Bearer, access_token). */
  readonly fromHeaders: readonly { readonly name: string; readonly valuePrefix: string }[];
  readonly fromParams: readonly string[];
}

export interface ApiKeyConsumer {
  readonly id: string;
  /** 1 or 2 (rotation) lower-case hex SHA-256 digests of the keys. */
  readonly keysSha256: readonly string[];
  readonly metadata: Labels;
}

/** API keys a gateway accepts (tessera.filters.http.api_key). */
export interface ApiKeyConfig {
  readonly consumers: readonly ApiKeyConsumer[];
  /** Where the key is read; at least one is set. */
  readonly header: string | null;
  readonly query: string | null;
  readonly keepCredential: boolean;
  /** The header the consumer id is sent upstream in; null = the filter's default, x-consumer-id. */
  readonly consumerHeader: string | null;
  /** Consumer metadata keys also sent upstream, as `x-consumer-<key>`. */
  readonly forwardMetadata: readonly string[];
}

export interface GatewayConfig {
  /** Node id of the gateway proxy. */
  readonly name: string;
  /** The HTTPS port when `tls` is set. */
  readonly listen: ListenAddress;
  readonly routes: readonly RouteRule[];
  readonly identity: WorkloadIdentity;
  readonly tls: GatewayTls | null;
  /** Sorted by name. */
  readonly jwtProviders: readonly JwtProvider[];
  readonly apiKeys: ApiKeyConfig | null;
}

export interface MeshConfig {
  readonly name: string;
  /** As written in the file; null = not set (the control plane's --trust-domain, else DEFAULT_TRUST_DOMAIN). */
  readonly trustDomain: string | null;
  /** The default mode of every service. */
  readonly mtls: MtlsMode;
  readonly services: readonly ServiceConfig[];
  readonly routes: readonly RouteSet[];
  readonly gateways: readonly GatewayConfig[];
}

export type NodeRole =
  | { readonly role: 'sidecar'; readonly service: ServiceConfig; readonly instance: InstanceConfig }
  | { readonly role: 'gateway'; readonly gateway: GatewayConfig };

/** One validated mesh config plus lookup indexes; immutable (the maps are read-only views by contract). */
export interface World {
  /** The file the config came from, as given to the parser. */
  readonly source: string;
  /** Every file the config names (cert_file, key_file, jwks_file), resolved, sorted: the control plane watches them too. */
  readonly files: readonly string[];
  readonly mesh: MeshConfig;
  readonly services: ReadonlyMap<string, ServiceConfig>;
  /** Route rules by destination service (absent: only the implied default route). */
  readonly routes: ReadonlyMap<string, RouteSet>;
  readonly nodes: ReadonlyMap<string, NodeRole>;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
export const DEFAULT_ROUTE_TIMEOUT_MS = 15000;
/** grpc services: streams may be long-lived, so no route timeout; the client's grpc-timeout governs. */
export const DEFAULT_GRPC_ROUTE_TIMEOUT_MS = 0;
export const DEFAULT_RETRY_ON: readonly RetryOnCondition[] = ['connect-failure', 'refused-stream', 'unavailable', 'cancelled'];
export const DEFAULT_HEALTH_CHECK = { intervalMs: 10_000, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 3 } as const;
export const DEFAULT_MESH_NAME = 'default';
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';
export const DEFAULT_MTLS: MtlsMode = 'PERMISSIVE';
export const DEFAULT_NAMESPACE = 'default';

/** A service's mode: its own `mtls`, else the mesh's. */
export function effectiveMtls(mesh: MeshConfig, svc: ServiceConfig): MtlsMode {
  return svc.mtls ?? mesh.mtls;
}
