// CDS: validates a decoded envoy.config.cluster.v3.Cluster (STATIC or EDS) into ClusterConfig.
import { deepFreeze, err, ok, type Result } from '../../core/result.js';
import { TypeUrl } from '../type-urls.js';
import {
  Issues,
  NOT_SUPPORTED,
  UPSTREAM_HTTP2_DEFAULTS,
  adsConfigSource,
  anyBody,
  anyType,
  bool,
  boolWrapper,
  durationMs,
  enumOf,
  headerValueOption,
  http2ProtocolOptions,
  isObj,
  isSet,
  join,
  list,
  num,
  obj,
  onlyKnown,
  optionalPositiveDurationMs,
  percent,
  positiveDurationMs,
  str,
  u32InRange,
  u32Wrapper,
  type Obj,
} from './common.js';
import { loadAssignment } from './endpoint.js';
import { transportSocket } from './tls.js';
import type {
  CircuitBreakerThresholds,
  ClusterConfig,
  EndpointsConfig,
  HealthCheckConfig,
  Http2ProtocolConfig,
  OutlierDetectionConfig,
} from './types.js';

const MIB = 1024 * 1024;
const U32_MAX = 4_294_967_295;
const RING_SIZE_MAX = 8_388_608;
const MAGLEV_TABLE_MAX = 5_000_011;

/** The key of typed_extension_protocol_options Tessera reads (Envoy's upstream HTTP protocol options). */
export const HTTP_PROTOCOL_OPTIONS_KEY = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

/** Envoy's circuit-breaker thresholds when a priority has none. */
export const DEFAULT_CIRCUIT_BREAKER_THRESHOLDS: Readonly<CircuitBreakerThresholds> = Object.freeze({
  maxConnections: 1024,
  maxPendingRequests: 1024,
  maxRequests: 1024,
  maxRetries: 3,
  retryBudget: null,
});

const LB_POLICIES = ['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'RING_HASH', 'MAGLEV'] as const;
type LbPolicy = (typeof LB_POLICIES)[number];

/** The lb_config oneof member and the policy it belongs to. */
const LB_CONFIG_POLICY: Readonly<Record<string, LbPolicy>> = {
  round_robin_lb_config: 'ROUND_ROBIN',
  least_request_lb_config: 'LEAST_REQUEST',
  ring_hash_lb_config: 'RING_HASH',
  maglev_lb_config: 'MAGLEV',
};

export function validateCluster(raw: Obj): Result<ClusterConfig> {
  const issues = new Issues();
  onlyKnown(
    raw,
    '',
    [
      'name', 'type', 'eds_cluster_config', 'connect_timeout', 'lb_policy', 'least_request_lb_config', 'round_robin_lb_config',
      'ring_hash_lb_config', 'maglev_lb_config', 'common_lb_config', 'load_assignment', 'common_http_protocol_options',
      'max_requests_per_connection', 'per_connection_buffer_limit_bytes', 'circuit_breakers', 'outlier_detection', 'health_checks',
      'typed_extension_protocol_options', 'http_protocol_options', 'http2_protocol_options', 'protocol_selection',
      'transport_socket',
    ],
    ['alt_stat_name', 'metadata', 'dns_lookup_family', 'dns_refresh_rate', 'respect_dns_ttl', 'cleanup_interval'],
    issues,
  );
  const name = str(raw, 'name');
  if (name === '') issues.add('name', 'required');
  const type = raw.type === undefined ? 'STATIC' : String(raw.type);
  if (type !== 'STATIC' && type !== 'EDS') issues.add('type', `${type} ${NOT_SUPPORTED}`);

  let edsServiceName = name;
  let la: EndpointsConfig | null = null;
  if (type === 'EDS') {
    const ecc = obj(raw, 'eds_cluster_config');
    if (!ecc) issues.add('eds_cluster_config', 'required for EDS clusters');
    else {
      onlyKnown(ecc, 'eds_cluster_config', ['eds_config', 'service_name'], [], issues);
      adsConfigSource(obj(ecc, 'eds_config'), 'eds_cluster_config.eds_config', issues);
      if (str(ecc, 'service_name') !== '') edsServiceName = str(ecc, 'service_name');
    }
  } else {
    if (raw.eds_cluster_config !== undefined) issues.add('eds_cluster_config', 'only valid for EDS clusters');
    const lap = obj(raw, 'load_assignment');
    if (!lap) issues.add('load_assignment', 'required for STATIC clusters');
    else la = { ...loadAssignment(lap, 'load_assignment', issues), raw: lap };
  }

  const connectTimeoutMs = durationMs(raw, 'connect_timeout', 5_000, '', issues);
  if (raw.connect_timeout !== undefined && connectTimeoutMs <= 0) issues.add('connect_timeout', 'must be greater than 0');
  const lb = lbSettings(raw, issues);
  const common = commonLbConfig(obj(raw, 'common_lb_config'), 'common_lb_config', issues);
  const proto = protocolOptions(raw, issues);
  const cb = circuitBreakers(obj(raw, 'circuit_breakers'), 'circuit_breakers', issues);
  const od = raw.outlier_detection === undefined ? null : outlierDetection(obj(raw, 'outlier_detection') ?? {}, 'outlier_detection', issues);
  const healthChecks = list(raw, 'health_checks').map((h, i) => healthCheck(h, join('health_checks', i), issues));
  const tls = transportSocket(obj(raw, 'transport_socket'), 'transport_socket', issues, 'upstream');
  if (tls !== null && tls.common.alpnProtocols.length > 0 && proto.upstreamProtocol !== 'downstream') {
    const want = proto.upstreamProtocol === 'http2' ? 'h2' : 'http/1.1';
    if (!tls.common.alpnProtocols.includes(want)) issues.add('transport_socket.typed_config.common_tls_context.alpn_protocols', `must offer ${want} for the cluster's ${proto.upstreamProtocol} upstream`);
  }
  if (tls !== null && healthChecks.length > 0) issues.add('health_checks', `health checks over TLS are ${NOT_SUPPORTED} (the cluster has a TLS transport socket)`);

  if (!issues.empty) return err(issues.list);
  return ok(
    deepFreeze({
      name,
      type: type as ClusterConfig['type'],
      edsServiceName,
      connectTimeoutMs,
      lbPolicy: lb.lbPolicy as ClusterConfig['lbPolicy'],
      leastRequestChoiceCount: lb.leastRequestChoiceCount,
      loadAssignment: la,
      upstreamIdleTimeoutMs: proto.upstreamIdleTimeoutMs,
      maxRequestsPerConnection: proto.maxRequestsPerConnection,
      perConnectionBufferLimitBytes: u32Wrapper(raw, 'per_connection_buffer_limit_bytes', MIB),
      ringHash: lb.ringHash,
      maglevTableSize: lb.maglevTableSize,
      healthyPanicThresholdPercent: common.healthyPanicThresholdPercent,
      localityWeightedLb: common.localityWeightedLb,
      circuitBreakers: cb,
      outlierDetection: od,
      healthChecks,
      upstreamProtocol: proto.upstreamProtocol,
      http2: proto.http2,
      tls,
      raw,
    }),
  );
}

interface LbSettings {
  readonly lbPolicy: LbPolicy;
  readonly leastRequestChoiceCount: number;
  readonly ringHash: ClusterConfig['ringHash'];
  readonly maglevTableSize: number;
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/** lb_policy and its lb_config oneof (a config of another policy is an error, as in Envoy). */
function lbSettings(raw: Obj, issues: Issues): LbSettings {
  const lbPolicy = enumOf(raw, 'lb_policy', LB_POLICIES, 'ROUND_ROBIN', '', issues);
  const policyKnown = raw.lb_policy === undefined || (LB_POLICIES as readonly string[]).includes(String(raw.lb_policy));
  for (const [key, policy] of Object.entries(LB_CONFIG_POLICY)) {
    if (raw[key] !== undefined && policyKnown && lbPolicy !== policy) issues.add(key, `requires lb_policy ${policy}`);
  }
  let leastRequestChoiceCount = 2;
  const lrc = obj(raw, 'least_request_lb_config');
  if (lrc) {
    onlyKnown(lrc, 'least_request_lb_config', ['choice_count'], [], issues);
    leastRequestChoiceCount = u32Wrapper(lrc, 'choice_count', 2);
    if (leastRequestChoiceCount < 2) issues.add('least_request_lb_config.choice_count', 'must be at least 2');
  }
  const rrc = obj(raw, 'round_robin_lb_config');
  if (rrc) onlyKnown(rrc, 'round_robin_lb_config', [], [], issues);

  let ringHash = { minRingSize: 1024, maxRingSize: RING_SIZE_MAX };
  const rh = obj(raw, 'ring_hash_lb_config');
  if (rh) {
    const p = 'ring_hash_lb_config';
    onlyKnown(rh, p, ['minimum_ring_size', 'maximum_ring_size', 'hash_function'], [], issues);
    enumOf(rh, 'hash_function', ['XX_HASH'], 'XX_HASH', p, issues);
    const minRingSize = u32InRange(rh, 'minimum_ring_size', 1024, 1, RING_SIZE_MAX, p, issues);
    const maxRingSize = u32InRange(rh, 'maximum_ring_size', RING_SIZE_MAX, 1, RING_SIZE_MAX, p, issues);
    if (minRingSize > maxRingSize) issues.add(join(p, 'minimum_ring_size'), `(${minRingSize}) must not exceed maximum_ring_size (${maxRingSize})`);
    ringHash = { minRingSize, maxRingSize };
  }

  let maglevTableSize = 65_537;
  const mg = obj(raw, 'maglev_lb_config');
  if (mg) {
    const p = 'maglev_lb_config';
    onlyKnown(mg, p, ['table_size'], [], issues);
    maglevTableSize = u32InRange(mg, 'table_size', 65_537, 1, MAGLEV_TABLE_MAX, p, issues);
    if (!isPrime(maglevTableSize)) {
      issues.add(join(p, 'table_size'), `must be a prime number, got ${maglevTableSize}`);
      maglevTableSize = 65_537;
    }
  }
  return { lbPolicy, leastRequestChoiceCount, ringHash, maglevTableSize };
}

/**
 * common_lb_config: healthy_panic_threshold and locality_weighted_lb_config are honoured; update_merge_window is
 * ignored (Tessera rebuilds its LB on every update); zone-aware routing and the rest are rejected.
 */
function commonLbConfig(c: Obj | null, path: string, issues: Issues): { healthyPanicThresholdPercent: number; localityWeightedLb: boolean } {
  if (!c) return { healthyPanicThresholdPercent: 50, localityWeightedLb: false };
  onlyKnown(c, path, ['healthy_panic_threshold', 'locality_weighted_lb_config'], ['update_merge_window'], issues);
  const lw = obj(c, 'locality_weighted_lb_config');
  if (lw) onlyKnown(lw, join(path, 'locality_weighted_lb_config'), [], [], issues);
  return { healthyPanicThresholdPercent: percent(c, 'healthy_panic_threshold', 50, path, issues), localityWeightedLb: lw !== null };
}

/** circuit_breakers.thresholds: one entry per priority at most; unset limits take Envoy's defaults. */
function circuitBreakers(cb: Obj | null, path: string, issues: Issues): ClusterConfig['circuitBreakers'] {
  const out: { DEFAULT: CircuitBreakerThresholds; HIGH: CircuitBreakerThresholds } = {
    DEFAULT: DEFAULT_CIRCUIT_BREAKER_THRESHOLDS,
    HIGH: DEFAULT_CIRCUIT_BREAKER_THRESHOLDS,
  };
  if (cb) {
    onlyKnown(cb, path, ['thresholds'], [], issues);
    const seen = new Map<string, number>();
    list(cb, 'thresholds').forEach((t, i) => {
      const p = join(join(path, 'thresholds'), i);
      onlyKnown(t, p, ['priority', 'max_connections', 'max_pending_requests', 'max_requests', 'max_retries', 'retry_budget'], ['track_remaining'], issues);
      const priority = enumOf(t, 'priority', ['DEFAULT', 'HIGH'] as const, 'DEFAULT', p, issues);
      const prev = seen.get(priority);
      if (prev !== undefined) issues.add(join(p, 'priority'), `${priority} already configured by thresholds[${prev}]`);
      seen.set(priority, i);
      const d = DEFAULT_CIRCUIT_BREAKER_THRESHOLDS;
      let retryBudget: CircuitBreakerThresholds['retryBudget'] = null;
      const rb = obj(t, 'retry_budget');
      if (rb) {
        const rp = join(p, 'retry_budget');
        onlyKnown(rb, rp, ['budget_percent', 'min_retry_concurrency'], [], issues);
        retryBudget = { budgetPercent: percent(rb, 'budget_percent', 20, rp, issues), minRetryConcurrency: u32Wrapper(rb, 'min_retry_concurrency', 3) };
      }
      out[priority] = {
        maxConnections: u32Wrapper(t, 'max_connections', d.maxConnections),
        maxPendingRequests: u32Wrapper(t, 'max_pending_requests', d.maxPendingRequests),
        maxRequests: u32Wrapper(t, 'max_requests', d.maxRequests),
        maxRetries: u32Wrapper(t, 'max_retries', d.maxRetries),
        retryBudget,
      };
    });
  }
  return { default: out.DEFAULT, high: out.HIGH };
}

/** Envoy's outlier detection defaults (envoy.config.cluster.v3.OutlierDetection). */
export const DEFAULT_OUTLIER_DETECTION: Readonly<OutlierDetectionConfig> = Object.freeze({
  consecutive5xx: 5,
  consecutiveGatewayFailure: 5,
  consecutiveLocalOriginFailure: 5,
  intervalMs: 10_000,
  baseEjectionTimeMs: 30_000,
  maxEjectionTimeMs: 300_000,
  maxEjectionTimeJitterMs: 0,
  maxEjectionPercent: 10,
  enforcingConsecutive5xx: 100,
  enforcingConsecutiveGatewayFailure: 0,
  enforcingConsecutiveLocalOriginFailure: 100,
  enforcingSuccessRate: 100,
  enforcingLocalOriginSuccessRate: 100,
  successRateMinimumHosts: 5,
  successRateRequestVolume: 100,
  successRateStdevFactor: 1900,
  failurePercentageThreshold: 85,
  enforcingFailurePercentage: 0,
  enforcingFailurePercentageLocalOrigin: 0,
  failurePercentageMinimumHosts: 5,
  failurePercentageRequestVolume: 50,
  splitExternalLocalOriginErrors: false,
  alwaysEjectOneHost: false,
});

/** OutlierDetection wrapper fields: proto name → [config key, is a percentage]. */
const OUTLIER_U32: readonly (readonly [string, keyof OutlierDetectionConfig, boolean])[] = [
  ['consecutive_5xx', 'consecutive5xx', false],
  ['consecutive_gateway_failure', 'consecutiveGatewayFailure', false],
  ['consecutive_local_origin_failure', 'consecutiveLocalOriginFailure', false],
  ['max_ejection_percent', 'maxEjectionPercent', true],
  ['enforcing_consecutive_5xx', 'enforcingConsecutive5xx', true],
  ['enforcing_consecutive_gateway_failure', 'enforcingConsecutiveGatewayFailure', true],
  ['enforcing_consecutive_local_origin_failure', 'enforcingConsecutiveLocalOriginFailure', true],
  ['enforcing_success_rate', 'enforcingSuccessRate', true],
  ['enforcing_local_origin_success_rate', 'enforcingLocalOriginSuccessRate', true],
  ['success_rate_minimum_hosts', 'successRateMinimumHosts', false],
  ['success_rate_request_volume', 'successRateRequestVolume', false],
  ['success_rate_stdev_factor', 'successRateStdevFactor', false],
  ['failure_percentage_threshold', 'failurePercentageThreshold', true],
  ['enforcing_failure_percentage', 'enforcingFailurePercentage', true],
  ['enforcing_failure_percentage_local_origin', 'enforcingFailurePercentageLocalOrigin', true],
  ['failure_percentage_minimum_hosts', 'failurePercentageMinimumHosts', false],
  ['failure_percentage_request_volume', 'failurePercentageRequestVolume', false],
];

function outlierDetection(o: Obj, path: string, issues: Issues): OutlierDetectionConfig {
  const durations = ['interval', 'base_ejection_time', 'max_ejection_time', 'max_ejection_time_jitter'];
  const notDefault = ['successful_active_health_check_uneject_host', 'monitors'];
  onlyKnown(
    o,
    path,
    [...OUTLIER_U32.map((f) => f[0]), ...durations, ...notDefault, 'split_external_local_origin_errors', 'always_eject_one_host'],
    [],
    issues,
  );
  // Fields Tessera does not implement are accepted only at their defaults.
  if (!boolWrapper(o, 'successful_active_health_check_uneject_host', true)) issues.add(join(path, 'successful_active_health_check_uneject_host'), `false ${NOT_SUPPORTED}`);
  if (isSet(o.monitors)) issues.unsupported(join(path, 'monitors'));

  const d = DEFAULT_OUTLIER_DETECTION;
  const out: Record<string, number | boolean> = { ...d };
  for (const [key, field, isPercent] of OUTLIER_U32) {
    out[field] = u32InRange(o, key, d[field] as number, 0, isPercent ? 100 : U32_MAX, path, issues);
  }
  out.intervalMs = positiveDurationMs(o, 'interval', d.intervalMs, path, issues);
  const base = positiveDurationMs(o, 'base_ejection_time', d.baseEjectionTimeMs, path, issues);
  out.baseEjectionTimeMs = base;
  if (isObj(o.max_ejection_time)) {
    const max = positiveDurationMs(o, 'max_ejection_time', d.maxEjectionTimeMs, path, issues);
    if (max < base) issues.add(join(path, 'max_ejection_time'), `(${max} ms) must not be less than base_ejection_time (${base} ms)`);
    out.maxEjectionTimeMs = max;
  } else {
    out.maxEjectionTimeMs = Math.max(d.maxEjectionTimeMs, base);
  }
  out.maxEjectionTimeJitterMs = durationMs(o, 'max_ejection_time_jitter', 0, path, issues);
  out.splitExternalLocalOriginErrors = bool(o, 'split_external_local_origin_errors');
  out.alwaysEjectOneHost = boolWrapper(o, 'always_eject_one_host', false);
  return out as unknown as OutlierDetectionConfig;
}

const HEX = /^(?:[0-9a-fA-F]{2})+$/;

/** HealthCheck.Payload: `text` (hex) or `binary` (bytes, decoded as base64). */
function payload(p: Obj, path: string, issues: Issues): Buffer {
  onlyKnown(p, path, ['text', 'binary'], [], issues);
  if (typeof p.text === 'string') {
    if (!HEX.test(p.text)) {
      issues.add(join(path, 'text'), `invalid hex string "${p.text}"`);
      return Buffer.alloc(0);
    }
    return Buffer.from(p.text, 'hex');
  }
  if (typeof p.binary === 'string') return Buffer.from(p.binary, 'base64');
  issues.add(path, 'one of text, binary is required');
  return Buffer.alloc(0);
}

/**
 * envoy.config.core.v3.HealthCheck (HTTP, TCP, gRPC). event_log_path, event_logger, event_service and
 * always_log_health_check_success are accepted and ignored (Tessera logs failures through its own logger).
 */
function healthCheck(h: Obj, path: string, issues: Issues): HealthCheckConfig {
  onlyKnown(
    h,
    path,
    [
      'timeout', 'interval', 'interval_jitter', 'interval_jitter_percent', 'unhealthy_threshold', 'healthy_threshold',
      'no_traffic_interval', 'unhealthy_interval', 'unhealthy_edge_interval', 'healthy_edge_interval',
      'always_log_health_check_failures', 'reuse_connection', 'http_health_check', 'tcp_health_check', 'grpc_health_check',
    ],
    ['event_log_path', 'event_logger', 'event_service', 'always_log_health_check_success'],
    issues,
  );
  for (const k of ['timeout', 'interval', 'unhealthy_threshold', 'healthy_threshold']) {
    if (!isObj(h[k])) issues.add(join(path, k), 'required');
  }
  if (!boolWrapper(h, 'reuse_connection', true)) issues.add(join(path, 'reuse_connection'), `false ${NOT_SUPPORTED}`);
  const checks = ['http_health_check', 'tcp_health_check', 'grpc_health_check'].filter((k) => isObj(h[k]));
  let check: HealthCheckConfig['check'] = Object.freeze({ kind: 'tcp', send: null, receive: Object.freeze([]) });
  if (checks.length === 0) {
    if (!isSet(h.custom_health_check)) issues.add(path, 'one of http_health_check, tcp_health_check, grpc_health_check is required');
  } else {
    const kind = checks[0]!;
    const c = h[kind] as Obj;
    const cp = join(path, kind);
    if (kind === 'http_health_check') {
      onlyKnown(c, cp, ['host', 'path', 'expected_statuses', 'request_headers_to_add', 'codec_client_type', 'method'], [], issues);
      const hcPath = str(c, 'path');
      if (hcPath === '') issues.add(join(cp, 'path'), 'required');
      const method = c.method === undefined ? 'METHOD_UNSPECIFIED' : String(c.method);
      if (method !== 'METHOD_UNSPECIFIED' && method !== 'GET') issues.add(join(cp, 'method'), `${method} ${NOT_SUPPORTED}`);
      let expectedStatuses: [number, number][] = [[200, 201]];
      if (isSet(c.expected_statuses)) {
        expectedStatuses = list(c, 'expected_statuses').map((r, i) => {
          const rp = join(join(cp, 'expected_statuses'), i);
          onlyKnown(r, rp, ['start', 'end'], [], issues);
          const start = num(r, 'start');
          const end = num(r, 'end');
          if (start < 100) issues.add(join(rp, 'start'), `must be at least 100, got ${start}`);
          if (end > 600) issues.add(join(rp, 'end'), `must be at most 600, got ${end}`);
          if (start >= end) issues.add(rp, `start (${start}) must be less than end (${end})`);
          return [start, end];
        });
      }
      check = {
        kind: 'http',
        host: str(c, 'host'),
        path: hcPath,
        expectedStatuses,
        requestHeadersToAdd: list(c, 'request_headers_to_add').map((o, i) => headerValueOption(o, join(join(cp, 'request_headers_to_add'), i), issues)),
        codec: enumOf(c, 'codec_client_type', ['HTTP1', 'HTTP2'] as const, 'HTTP1', cp, issues),
      };
    } else if (kind === 'tcp_health_check') {
      onlyKnown(c, cp, ['send', 'receive'], [], issues);
      const send = isObj(c.send) ? payload(c.send, join(cp, 'send'), issues) : null;
      const receive = list(c, 'receive').map((r, i) => payload(r, join(join(cp, 'receive'), i), issues));
      // Pre-frozen: deepFreeze skips frozen objects, and a Buffer with contents cannot be frozen.
      check = Object.freeze({ kind: 'tcp', send, receive: Object.freeze(receive) });
    } else {
      onlyKnown(c, cp, ['service_name', 'authority'], [], issues);
      check = { kind: 'grpc', serviceName: str(c, 'service_name'), authority: str(c, 'authority') };
    }
  }
  const intervalMs = positiveDurationMs(h, 'interval', 0, path, issues);
  return {
    timeoutMs: positiveDurationMs(h, 'timeout', 0, path, issues),
    intervalMs,
    intervalJitterMs: durationMs(h, 'interval_jitter', 0, path, issues),
    intervalJitterPercent: num(h, 'interval_jitter_percent'),
    unhealthyThreshold: u32Wrapper(h, 'unhealthy_threshold', 0),
    healthyThreshold: u32Wrapper(h, 'healthy_threshold', 0),
    noTrafficIntervalMs: positiveDurationMs(h, 'no_traffic_interval', 60_000, path, issues),
    unhealthyIntervalMs: optionalPositiveDurationMs(h, 'unhealthy_interval', path, issues),
    unhealthyEdgeIntervalMs: optionalPositiveDurationMs(h, 'unhealthy_edge_interval', path, issues),
    healthyEdgeIntervalMs: optionalPositiveDurationMs(h, 'healthy_edge_interval', path, issues),
    alwaysLogFailures: bool(h, 'always_log_health_check_failures'),
    check,
  };
}

interface ProtocolSettings {
  readonly upstreamProtocol: ClusterConfig['upstreamProtocol'];
  readonly http2: Http2ProtocolConfig;
  readonly upstreamIdleTimeoutMs: number;
  readonly maxRequestsPerConnection: number;
}

/** core.v3.HttpProtocolOptions for upstream connections: idle_timeout and max_requests_per_connection. */
function commonHttpProtocolOptions(cpo: Obj, path: string, issues: Issues): void {
  onlyKnown(cpo, path, ['idle_timeout', 'max_requests_per_connection'], [], issues);
}

/** An Http1ProtocolOptions selecting HTTP/1.1 upstream: none of its fields is implemented. */
function http1Options(o: Obj | null, path: string, issues: Issues): void {
  if (o) onlyKnown(o, path, [], [], issues);
}

/**
 * Upstream protocol: typed_extension_protocol_options[HttpProtocolOptions] when present (Envoy then ignores the
 * deprecated cluster fields), else the deprecated http_protocol_options / http2_protocol_options /
 * protocol_selection / common_http_protocol_options.
 */
function protocolOptions(raw: Obj, issues: Issues): ProtocolSettings {
  const clusterMaxRequests = u32Wrapper(raw, 'max_requests_per_connection', 0);
  const teo = obj(raw, 'typed_extension_protocol_options');
  let typed: Obj | null = null;
  let typedPath = '';
  if (teo) {
    for (const [key, v] of Object.entries(teo)) {
      const p = `typed_extension_protocol_options["${key}"]`;
      if (key !== HTTP_PROTOCOL_OPTIONS_KEY) {
        issues.unsupported(p);
        continue;
      }
      const any = isObj(v) ? v : null;
      const t = anyType(any, p, issues);
      if (t === null) continue;
      if (t !== TypeUrl.HttpProtocolOptions) issues.add(p, `type ${t} ${NOT_SUPPORTED} (expected ${TypeUrl.HttpProtocolOptions})`);
      else {
        typed = anyBody(any!);
        typedPath = p;
      }
    }
  }
  if (typed) {
    const p = typedPath;
    onlyKnown(typed, p, ['common_http_protocol_options', 'explicit_http_config', 'use_downstream_protocol_config'], [], issues);
    const cpo = obj(typed, 'common_http_protocol_options') ?? {};
    const cpp = join(p, 'common_http_protocol_options');
    commonHttpProtocolOptions(cpo, cpp, issues);
    if (isObj(cpo.max_requests_per_connection) && isObj(raw.max_requests_per_connection)) {
      issues.add('max_requests_per_connection', `cannot be combined with ${cpp}.max_requests_per_connection`);
    }
    let upstreamProtocol: ClusterConfig['upstreamProtocol'] = 'http1';
    let http2: Http2ProtocolConfig = { ...UPSTREAM_HTTP2_DEFAULTS };
    const explicit = obj(typed, 'explicit_http_config');
    const downstream = obj(typed, 'use_downstream_protocol_config');
    if (explicit) {
      const ep = join(p, 'explicit_http_config');
      onlyKnown(explicit, ep, ['http_protocol_options', 'http2_protocol_options'], [], issues);
      const h2 = obj(explicit, 'http2_protocol_options');
      if (h2) {
        upstreamProtocol = 'http2';
        http2 = http2ProtocolOptions(h2, join(ep, 'http2_protocol_options'), issues, UPSTREAM_HTTP2_DEFAULTS);
      } else if (isObj(explicit.http_protocol_options)) {
        http1Options(obj(explicit, 'http_protocol_options'), join(ep, 'http_protocol_options'), issues);
      } else if (!isSet(explicit.http3_protocol_options)) {
        issues.add(ep, 'one of http_protocol_options, http2_protocol_options is required');
      }
    } else if (downstream) {
      const dp = join(p, 'use_downstream_protocol_config');
      onlyKnown(downstream, dp, ['http_protocol_options', 'http2_protocol_options'], [], issues);
      upstreamProtocol = 'downstream';
      http1Options(obj(downstream, 'http_protocol_options'), join(dp, 'http_protocol_options'), issues);
      http2 = http2ProtocolOptions(obj(downstream, 'http2_protocol_options'), join(dp, 'http2_protocol_options'), issues, UPSTREAM_HTTP2_DEFAULTS);
    } else if (!isSet(typed.auto_config)) {
      issues.add(p, 'one of explicit_http_config, use_downstream_protocol_config is required');
    }
    return {
      upstreamProtocol,
      http2,
      upstreamIdleTimeoutMs: durationMs(cpo, 'idle_timeout', 3_600_000, cpp, issues),
      maxRequestsPerConnection: u32Wrapper(cpo, 'max_requests_per_connection', clusterMaxRequests),
    };
  }

  const cpo = obj(raw, 'common_http_protocol_options') ?? {};
  commonHttpProtocolOptions(cpo, 'common_http_protocol_options', issues);
  const h1 = obj(raw, 'http_protocol_options');
  const h2 = obj(raw, 'http2_protocol_options');
  http1Options(h1, 'http_protocol_options', issues);
  const selection = enumOf(raw, 'protocol_selection', ['USE_CONFIGURED_PROTOCOL', 'USE_DOWNSTREAM_PROTOCOL'] as const, 'USE_CONFIGURED_PROTOCOL', '', issues);
  if (selection === 'USE_CONFIGURED_PROTOCOL' && h1 && h2) {
    issues.add('http2_protocol_options', 'cannot be combined with http_protocol_options unless protocol_selection is USE_DOWNSTREAM_PROTOCOL');
  }
  return {
    upstreamProtocol: selection === 'USE_DOWNSTREAM_PROTOCOL' ? 'downstream' : h2 ? 'http2' : 'http1',
    http2: http2ProtocolOptions(h2, 'http2_protocol_options', issues, UPSTREAM_HTTP2_DEFAULTS),
    upstreamIdleTimeoutMs: durationMs(cpo, 'idle_timeout', 3_600_000, 'common_http_protocol_options', issues),
    maxRequestsPerConnection: u32Wrapper(cpo, 'max_requests_per_connection', clusterMaxRequests),
  };
}
