// CDS translation: EDS clusters per destination (and subset) with the service's destination policies, plus a
// sidecar's STATIC inbound cluster to its app.
import { TypeUrl } from '../../src/xds/type-urls.js';
import type { CircuitBreakerPolicy, HealthCheckPolicy, OutlierDetectionPolicy, Protocol, ServiceConfig, World } from '../model/index.js';
import { edsTargets, type NodeView } from './node-view.js';
import { ADS_SOURCE, byName, duration, inboundName, socketAddress, u32, type NamedResource } from './names.js';
import { trustDomainOf, upstreamMtls, upstreamTlsSocket } from './tls.js';

const LB_POLICY = {
  round_robin: 'ROUND_ROBIN',
  least_request: 'LEAST_REQUEST',
  random: 'RANDOM',
  ring_hash: 'RING_HASH',
  maglev: 'MAGLEV',
} as const;

const HTTP_PROTOCOL_OPTIONS_KEY = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

/** http2 and grpc upstreams speak HTTP/2 with prior knowledge (h2c); http keeps Envoy's HTTP/1.1 default. */
function protocolOptions(protocol: Protocol): Record<string, unknown> {
  if (protocol !== 'http2' && protocol !== 'grpc') return {};
  return {
    typed_extension_protocol_options: {
      [HTTP_PROTOCOL_OPTIONS_KEY]: { '@type': TypeUrl.HttpProtocolOptions, explicit_http_config: { http2_protocol_options: {} } },
    },
  };
}

/**
 * grpc-js-xds accepts only ROUND_ROBIN and RING_HASH; MAGLEV becomes RING_HASH (both consistent hashing), the
 * others ROUND_ROBIN.
 */
function proxylessLbPolicy(svc: ServiceConfig): 'ROUND_ROBIN' | 'RING_HASH' {
  return svc.lb.policy === 'ring_hash' || svc.lb.policy === 'maglev' ? 'RING_HASH' : 'ROUND_ROBIN';
}

function commonLbConfig(svc: ServiceConfig): Record<string, unknown> {
  const c: Record<string, unknown> = {};
  if (svc.lb.panicThresholdPercent !== null) c.healthy_panic_threshold = { value: svc.lb.panicThresholdPercent };
  if (svc.lb.localityWeighted) c.locality_weighted_lb_config = {};
  return Object.keys(c).length > 0 ? { common_lb_config: c } : {};
}

function circuitBreakers(cb: CircuitBreakerPolicy): Record<string, unknown> {
  const t: Record<string, unknown> = { priority: 'DEFAULT' };
  if (cb.maxConnections !== null) t.max_connections = u32(cb.maxConnections);
  if (cb.maxPendingRequests !== null) t.max_pending_requests = u32(cb.maxPendingRequests);
  if (cb.maxRequests !== null) t.max_requests = u32(cb.maxRequests);
  if (cb.maxRetries !== null) t.max_retries = u32(cb.maxRetries);
  if (cb.retryBudget !== null) {
    const b: Record<string, unknown> = {};
    if (cb.retryBudget.percent !== null) b.budget_percent = { value: cb.retryBudget.percent };
    if (cb.retryBudget.minConcurrency !== null) b.min_retry_concurrency = u32(cb.retryBudget.minConcurrency);
    t.retry_budget = b;
  }
  return { thresholds: [t] };
}

/**
 * Explicit detectors: a configured detector is enforced (`enforcing`, default 100 %), one left out gets
 * enforcing 0 — Envoy (and gRPC) would otherwise run consecutive-5xx and success-rate ejection by default.
 */
function outlierDetection(od: OutlierDetectionPolicy): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (od.consecutive5xx !== null) o.consecutive_5xx = u32(od.consecutive5xx);
  o.enforcing_consecutive_5xx = u32(od.consecutive5xx !== null ? 100 : 0);
  if (od.consecutiveGatewayFailure !== null) {
    o.consecutive_gateway_failure = u32(od.consecutiveGatewayFailure);
    o.enforcing_consecutive_gateway_failure = u32(100);
  }
  if (od.intervalMs !== null) o.interval = duration(od.intervalMs);
  if (od.baseEjectionTimeMs !== null) o.base_ejection_time = duration(od.baseEjectionTimeMs);
  if (od.maxEjectionTimeMs !== null) o.max_ejection_time = duration(od.maxEjectionTimeMs);
  if (od.maxEjectionTimeJitterMs !== null) o.max_ejection_time_jitter = duration(od.maxEjectionTimeJitterMs);
  if (od.maxEjectionPercent !== null) o.max_ejection_percent = u32(od.maxEjectionPercent);
  const sr = od.successRate;
  if (sr !== null) {
    if (sr.minimumHosts !== null) o.success_rate_minimum_hosts = u32(sr.minimumHosts);
    if (sr.requestVolume !== null) o.success_rate_request_volume = u32(sr.requestVolume);
    if (sr.stdevFactor !== null) o.success_rate_stdev_factor = u32(sr.stdevFactor);
  }
  o.enforcing_success_rate = u32(sr?.enforcing ?? 0);
  const fp = od.failurePercentage;
  if (fp !== null) {
    if (fp.threshold !== null) o.failure_percentage_threshold = u32(fp.threshold);
    if (fp.minimumHosts !== null) o.failure_percentage_minimum_hosts = u32(fp.minimumHosts);
    if (fp.requestVolume !== null) o.failure_percentage_request_volume = u32(fp.requestVolume);
    o.enforcing_failure_percentage = u32(fp.enforcing);
  }
  if (od.splitExternalLocalOriginErrors) {
    o.split_external_local_origin_errors = true;
    if (od.consecutiveLocalOriginFailure !== null) o.consecutive_local_origin_failure = u32(od.consecutiveLocalOriginFailure);
    o.enforcing_consecutive_local_origin_failure = u32(od.consecutiveLocalOriginFailure !== null ? 100 : 0);
    o.enforcing_local_origin_success_rate = u32(sr?.enforcing ?? 0);
    if (fp !== null) o.enforcing_failure_percentage_local_origin = u32(fp.enforcing);
  }
  return o;
}

function healthCheck(hc: HealthCheckPolicy, protocol: Protocol): Record<string, unknown> {
  const out: Record<string, unknown> = {
    timeout: duration(hc.timeoutMs),
    interval: duration(hc.intervalMs),
    unhealthy_threshold: u32(hc.unhealthyThreshold),
    healthy_threshold: u32(hc.healthyThreshold),
  };
  const c = hc.check;
  if (c.kind === 'http') {
    const http: Record<string, unknown> = { path: c.path };
    if (c.host !== null) http.host = c.host;
    const isDefault = c.expectedStatuses.length === 1 && c.expectedStatuses[0]![0] === 200 && c.expectedStatuses[0]![1] === 201;
    if (!isDefault) http.expected_statuses = c.expectedStatuses.map(([start, end]) => ({ start, end }));
    if (protocol === 'http2' || protocol === 'grpc') http.codec_client_type = 'HTTP2';
    out.http_health_check = http;
  } else if (c.kind === 'tcp') {
    out.tcp_health_check = {};
  } else {
    const grpc: Record<string, unknown> = {};
    if (c.service !== null) grpc.service_name = c.service;
    if (c.authority !== null) grpc.authority = c.authority;
    out.grpc_health_check = grpc;
  }
  return out;
}

/**
 * Destination policies of `svc` for one of its EDS clusters. Proxyless gRPC clients get only what gRPC
 * honours (lb policy, circuit_breakers max_requests, outlier detection): no health_checks (gRPC has no active
 * health checking), no common_lb_config and no upstream protocol options (gRPC is always HTTP/2).
 */
function destinationPolicies(svc: ServiceConfig, proxyless: boolean): Record<string, unknown> {
  return {
    lb_policy: proxyless ? proxylessLbPolicy(svc) : LB_POLICY[svc.lb.policy],
    ...(proxyless ? {} : commonLbConfig(svc)),
    ...(svc.circuitBreaker !== null ? { circuit_breakers: circuitBreakers(svc.circuitBreaker) } : {}),
    ...(svc.outlierDetection !== null ? { outlier_detection: outlierDetection(svc.outlierDetection) } : {}),
    ...(!proxyless && svc.healthCheck !== null ? { health_checks: [healthCheck(svc.healthCheck, svc.protocol)] } : {}),
    ...(proxyless ? {} : protocolOptions(svc.protocol)),
  };
}

/** Whether this node's cluster to `svc` carries mTLS (sidecars and gateways only: proxyless clients call apps directly). */
export function clusterMtls(world: World, view: NodeView, svc: ServiceConfig): boolean {
  return view.kind !== 'proxyless' && upstreamMtls(world, svc, view.ca);
}

export function compileClusters(world: World, view: NodeView): NamedResource[] {
  const proxyless = view.kind === 'proxyless';
  const td = trustDomainOf(world, view.ca);
  const out: NamedResource[] = edsTargets(world, view).map((t) => ({
    name: t.name,
    resource: {
      name: t.name,
      type: 'EDS',
      eds_cluster_config: { eds_config: ADS_SOURCE },
      connect_timeout: duration(t.service.connectTimeoutMs),
      ...destinationPolicies(t.service, proxyless),
      ...(clusterMtls(world, view, t.service) ? { transport_socket: upstreamTlsSocket(td, t.service) } : {}),
    },
  }));
  if (view.kind === 'sidecar' && view.instance.sidecarPort !== null) {
    const name = inboundName(view.service.name);
    out.push({
      name,
      resource: {
        name,
        type: 'STATIC',
        connect_timeout: duration(view.service.connectTimeoutMs),
        lb_policy: 'ROUND_ROBIN',
        load_assignment: {
          cluster_name: name,
          endpoints: [
            {
              locality: {},
              load_balancing_weight: { value: 1 },
              lb_endpoints: [{ endpoint: { address: socketAddress(view.instance.address, view.instance.port) } }],
            },
          ],
        },
        // The local app speaks the service's protocol: a gRPC server only accepts HTTP/2.
        ...protocolOptions(view.service.protocol),
      },
    });
  }
  return out.sort(byName);
}
