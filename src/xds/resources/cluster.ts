// CDS: validates a decoded envoy.config.cluster.v3.Cluster (STATIC or EDS) into ClusterConfig.
import { deepFreeze, err, ok, type Result } from '../../core/result.js';
import { Issues, NOT_SUPPORTED, adsConfigSource, durationMs, isSet, join, list, obj, onlyKnown, str, u32Wrapper, type Obj } from './common.js';
import { loadAssignment } from './endpoint.js';
import type { ClusterConfig, EndpointsConfig } from './types.js';

const MIB = 1024 * 1024;

/** Envoy's default circuit-breaker thresholds: a cluster may restate them, not change them. */
const DEFAULT_THRESHOLDS: Readonly<Record<string, number>> = {
  max_connections: 1024,
  max_pending_requests: 1024,
  max_requests: 1024,
  max_retries: 3,
};

export function validateCluster(raw: Obj): Result<ClusterConfig> {
  const issues = new Issues();
  onlyKnown(
    raw,
    '',
    [
      'name', 'type', 'eds_cluster_config', 'connect_timeout', 'lb_policy', 'least_request_lb_config', 'round_robin_lb_config',
      'load_assignment', 'common_http_protocol_options', 'max_requests_per_connection', 'per_connection_buffer_limit_bytes',
      'circuit_breakers',
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
  const lbPolicy = raw.lb_policy === undefined ? 'ROUND_ROBIN' : String(raw.lb_policy);
  if (lbPolicy !== 'ROUND_ROBIN' && lbPolicy !== 'LEAST_REQUEST') issues.add('lb_policy', `${lbPolicy} ${NOT_SUPPORTED}`);
  let leastRequestChoiceCount = 2;
  const lrc = obj(raw, 'least_request_lb_config');
  if (lrc) {
    if (lbPolicy !== 'LEAST_REQUEST') issues.add('least_request_lb_config', 'requires lb_policy LEAST_REQUEST');
    onlyKnown(lrc, 'least_request_lb_config', ['choice_count'], [], issues);
    leastRequestChoiceCount = u32Wrapper(lrc, 'choice_count', 2);
    if (leastRequestChoiceCount < 2) issues.add('least_request_lb_config.choice_count', 'must be at least 2');
  }
  const rrc = obj(raw, 'round_robin_lb_config');
  if (rrc) onlyKnown(rrc, 'round_robin_lb_config', [], [], issues);

  const cpo = obj(raw, 'common_http_protocol_options') ?? {};
  onlyKnown(cpo, 'common_http_protocol_options', ['idle_timeout', 'max_requests_per_connection'], [], issues);
  const upstreamIdleTimeoutMs = durationMs(cpo, 'idle_timeout', 3_600_000, 'common_http_protocol_options', issues);
  const maxRequestsPerConnection = u32Wrapper(cpo, 'max_requests_per_connection', u32Wrapper(raw, 'max_requests_per_connection', 0));

  const cb = obj(raw, 'circuit_breakers');
  if (cb) {
    onlyKnown(cb, 'circuit_breakers', ['thresholds'], [], issues);
    list(cb, 'thresholds').forEach((t, i) => {
      const p = join('circuit_breakers.thresholds', i);
      onlyKnown(t, p, Object.keys(DEFAULT_THRESHOLDS), [], issues);
      for (const [k, dflt] of Object.entries(DEFAULT_THRESHOLDS)) {
        if (t[k] !== undefined && u32Wrapper(t, k, dflt) !== dflt) issues.add(join(p, k), `non-default value ${NOT_SUPPORTED}`);
      }
    });
  }
  if (isSet(raw.typed_extension_protocol_options)) issues.unsupported('typed_extension_protocol_options');

  if (!issues.empty) return err(issues.list);
  return ok(
    deepFreeze({
      name,
      type: type as ClusterConfig['type'],
      edsServiceName,
      connectTimeoutMs,
      lbPolicy: lbPolicy as ClusterConfig['lbPolicy'],
      leastRequestChoiceCount,
      loadAssignment: la,
      upstreamIdleTimeoutMs,
      maxRequestsPerConnection,
      perConnectionBufferLimitBytes: u32Wrapper(raw, 'per_connection_buffer_limit_bytes', MIB),
      raw,
    }),
  );
}
