import assert from 'node:assert/strict';
import { DEFAULT_OUTLIER_DETECTION } from '../../../../src/xds/resources/cluster.js';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import { HealthFlag, type LbContext, type UpstreamEndpoint } from '../../../../sidecar/contracts.js';
import { ClusterManagerImpl } from '../../../../sidecar/upstream/cluster-manager.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { StatsStore } from '../../../../src/observability/stats.js';
import type {
  CircuitBreakerThresholds,
  ClusterConfig,
  EndpointsConfig,
  HealthCheckConfig,
  HealthStatus,
  Http2ProtocolConfig,
  LbEndpointConfig,
  OutlierDetectionConfig,
} from '../../../../src/xds/resources/types.js';

const THRESHOLDS: CircuitBreakerThresholds = { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3, retryBudget: null };
const H2: Http2ProtocolConfig = {
  maxConcurrentStreams: 2147483647,
  initialStreamWindowSize: 268435456,
  initialConnectionWindowSize: 268435456,
  maxOutboundFrames: 10000,
  maxOutboundControlFrames: 1000,
  maxConsecutiveInboundFramesWithEmptyPayload: 1,
  maxInboundPriorityFramesPerStream: 100,
  maxInboundWindowUpdateFramesPerDataFrameSent: 10,
};

/** A full ClusterConfig with Envoy's defaults (what the CDS validator fills), overridable. */
function cluster(name: string, over: Partial<ClusterConfig> = {}): ClusterConfig {
  return {
    name,
    type: 'EDS',
    edsServiceName: name,
    connectTimeoutMs: 1000,
    lbPolicy: 'ROUND_ROBIN',
    tls: null,
    leastRequestChoiceCount: 2,
    loadAssignment: null,
    upstreamIdleTimeoutMs: 3_600_000,
    maxRequestsPerConnection: 0,
    perConnectionBufferLimitBytes: 1 << 20,
    ringHash: { minRingSize: 1024, maxRingSize: 8 * 1024 * 1024 },
    maglevTableSize: 65537,
    healthyPanicThresholdPercent: 50,
    localityWeightedLb: false,
    circuitBreakers: { default: THRESHOLDS, high: THRESHOLDS },
    outlierDetection: null,
    healthChecks: [],
    upstreamProtocol: 'http1',
    http2: H2,
    raw: {},
    ...over,
  };
}

const OUTLIER: OutlierDetectionConfig = DEFAULT_OUTLIER_DETECTION;

function lbe(port: number, healthStatus: HealthStatus = 'HEALTHY', weight = 1): LbEndpointConfig {
  return { address: { address: '10.0.0.1', port }, healthStatus, weight, labels: {} };
}

function cla(name: string, ...localities: { priority?: number; weight?: number; endpoints: LbEndpointConfig[] }[]): EndpointsConfig {
  return {
    clusterName: name,
    localities: localities.map((l) => ({
      locality: { region: '', zone: '', subZone: '' },
      weight: l.weight ?? 1,
      priority: l.priority ?? 0,
      endpoints: l.endpoints,
    })),
    overprovisioningFactor: 140,
    raw: {},
  };
}

function manager(random: () => number = () => 0) {
  const stats = new StatsStore();
  const cm = new ClusterManagerImpl(stats, silentLogger(), random);
  const removed: UpstreamEndpoint[] = [];
  cm.onEndpointRemoved((ep) => removed.push(ep));
  return { stats, cm, removed };
}

const ports = (eps: readonly UpstreamEndpoint[]) => eps.map((e) => e.address.port);

describe('ClusterManagerImpl', () => {
  it('keeps EDS assignments that arrive before their cluster', () => {
    const { cm } = manager();
    cm.applyEndpoints(new Map([['svc-eds', cla('svc-eds', { endpoints: [lbe(1), lbe(2)] })]]), []);
    assert.equal(cm.get('api'), null);
    assert.deepEqual(cm.assignmentNames(), ['svc-eds']);
    cm.applyClusters(new Map([['api', cluster('api', { edsServiceName: 'svc-eds' })]]), []);
    assert.deepEqual(ports(cm.get('api')!.endpoints()), [1, 2]);
    assert.equal(cm.get('api')!.pick(null)!.address.port, 1);
  });

  it('applies EDS after CDS and serves STATIC load assignments', () => {
    const { cm } = manager();
    cm.applyClusters(
      new Map([
        ['api', cluster('api')],
        ['static', cluster('static', { type: 'STATIC', loadAssignment: cla('static', { endpoints: [lbe(9)] }) })],
      ]),
      [],
    );
    assert.equal(cm.get('api')!.pick(null), null);
    cm.applyEndpoints(new Map([['api', cla('api', { endpoints: [lbe(7)] })]]), []);
    assert.equal(cm.get('api')!.pick(null)!.address.port, 7);
    assert.equal(cm.get('static')!.pick(null)!.address.port, 9);
    assert.deepEqual(cm.all().map((c) => c.name), ['api', 'static']);
  });

  it('keeps endpoint objects stable by address:port and notifies removals', () => {
    const { cm, removed } = manager();
    cm.applyClusters(new Map([['api', cluster('api')]]), []);
    cm.applyEndpoints(new Map([['api', cla('api', { endpoints: [lbe(1), lbe(2)] })]]), []);
    const [e1, e2] = cm.get('api')!.endpoints();
    e1!.rqTotal = 42;
    cm.applyEndpoints(new Map([['api', cla('api', { endpoints: [lbe(1, 'HEALTHY', 5), lbe(3)] })]]), []);
    const after = cm.get('api')!.endpoints();
    assert.equal(after[0], e1);
    assert.equal(after[0]!.rqTotal, 42);
    assert.equal(after[0]!.weight, 5);
    assert.deepEqual(removed, [e2]);
    assert.equal(e2!.removed, true);
    assert.equal(e1!.removed, false);
    // A CDS update of the cluster keeps the same cluster and endpoint objects.
    const before = cm.get('api');
    cm.applyClusters(new Map([['api', cluster('api', { connectTimeoutMs: 50 })]]), []);
    assert.equal(cm.get('api'), before);
    assert.equal(cm.get('api')!.config.connectTimeoutMs, 50);
    assert.equal(cm.get('api')!.endpoints()[0], e1);
  });

  it('removing a cluster or its assignment removes its endpoints', () => {
    const { cm, removed } = manager();
    cm.applyClusters(new Map([['a', cluster('a')], ['b', cluster('b')]]), []);
    cm.applyEndpoints(new Map([['a', cla('a', { endpoints: [lbe(1)] })], ['b', cla('b', { endpoints: [lbe(2)] })]]), []);
    cm.applyClusters(new Map(), ['a']);
    assert.equal(cm.get('a'), null);
    assert.deepEqual(ports(removed), [1]);
    assert.equal(removed[0]!.removed, true);
    cm.applyEndpoints(new Map(), ['b']);
    assert.deepEqual(ports(removed), [1, 2]);
    assert.equal(cm.get('b')!.pick(null), null);
    assert.equal(cm.get('b')!.endpoints().length, 0);
  });

  it('derives health from health_status and skips unhealthy endpoints (panic disabled)', () => {
    const { cm, stats } = manager();
    cm.applyClusters(new Map([['api', cluster('api', { healthyPanicThresholdPercent: 0 })]]), []);
    cm.applyEndpoints(
      new Map([['api', cla('api', { endpoints: [lbe(1, 'UNHEALTHY'), lbe(2, 'UNKNOWN'), lbe(3, 'DRAINING'), lbe(4, 'TIMEOUT'), lbe(5, 'HEALTHY')] })]]),
      [],
    );
    const c = cm.get('api')!;
    assert.deepEqual(c.endpoints().map((e) => e.healthy), [false, true, false, false, true]);
    assert.deepEqual(c.endpoints().map((e) => e.healthFlags), [HealthFlag.FailedEds, 0, HealthFlag.FailedEds, HealthFlag.FailedEds, 0]);
    const picked = new Set<number>();
    for (let i = 0; i < 10; i++) picked.add(c.pick(null)!.address.port);
    assert.deepEqual([...picked].sort(), [2, 5]);
    cm.applyEndpoints(new Map([['api', cla('api', { endpoints: [lbe(1, 'UNHEALTHY')] })]]), []);
    assert.equal(c.pick(null), null);
    assert.equal(stats.counter('cluster.api.upstream_cx_none_healthy').value, 1);
  });

  it('fails over to the next priority when a priority has no healthy endpoint', () => {
    const { cm } = manager();
    cm.applyClusters(new Map([['api', cluster('api')]]), []);
    const update = (p0: HealthStatus) =>
      cm.applyEndpoints(new Map([['api', cla('api', { priority: 1, endpoints: [lbe(20)] }, { priority: 0, endpoints: [lbe(10, p0)] })]]), []);
    update('HEALTHY');
    const c = cm.get('api')!;
    for (let i = 0; i < 3; i++) assert.equal(c.pick(null)!.address.port, 10);
    update('UNHEALTHY');
    for (let i = 0; i < 3; i++) assert.equal(c.pick(null)!.address.port, 20);
    assert.deepEqual([...cm.cluster('api')!.priorityLoad!.healthy], [0, 100]);
    update('HEALTHY');
    assert.equal(c.pick(null)!.address.port, 10);
    // An outlier ejection (a health flag) takes effect at once.
    c.setHealthFlag(c.endpoints()[1]!, HealthFlag.FailedOutlierCheck, true);
    assert.equal(c.pick(null)!.address.port, 20);
  });

  it('weights endpoints by endpoint weight only, and by locality with locality weighted LB', () => {
    const { cm } = manager();
    cm.applyClusters(new Map([['api', cluster('api')]]), []);
    const eds = cla('api', { weight: 3, endpoints: [lbe(1)] }, { weight: 1, endpoints: [lbe(2, 'HEALTHY', 2)] });
    cm.applyEndpoints(new Map([['api', eds]]), []);
    const count = () => {
      const counts = new Map<number, number>();
      for (let i = 0; i < 60; i++) {
        const p = cm.get('api')!.pick(null)!.address.port;
        counts.set(p, (counts.get(p) ?? 0) + 1);
      }
      return [counts.get(1), counts.get(2)];
    };
    assert.deepEqual(count(), [20, 40]);
    cm.applyClusters(new Map([['api', cluster('api', { localityWeightedLb: true })]]), []);
    assert.deepEqual(count(), [45, 15]);
  });

  it('uses LEAST_REQUEST when configured and resolves cluster stats handles', () => {
    const stats = new StatsStore();
    let i = 0;
    const draws = [0, 0.9];
    const cm = new ClusterManagerImpl(stats, silentLogger(), () => draws[i++ % 2]!);
    cm.applyClusters(new Map([['api', cluster('api', { lbPolicy: 'LEAST_REQUEST' })]]), []);
    cm.applyEndpoints(new Map([['api', cla('api', { endpoints: [lbe(1), lbe(2)] })]]), []);
    const c = cm.get('api')!;
    c.endpoints()[0]!.activeRequests = 4;
    // P2C draws endpoint 1 (busy) and endpoint 2 (idle): the idle one wins.
    assert.equal(c.pick(null)!.address.port, 2);
    c.endpoints()[0]!.activeRequests = 0;
    c.endpoints()[1]!.activeRequests = 4;
    assert.equal(c.pick(null)!.address.port, 1);
    c.stats.upstream_rq_total.inc();
    assert.equal(stats.counter('cluster.api.upstream_rq_total').value, 1);
    assert.equal(c.stats.upstream_cx_active, stats.gauge('cluster.api.upstream_cx_active'));
  });

  it('enters panic with too few healthy hosts: all hosts serve and lb_healthy_panic counts', () => {
    const { cm, stats } = manager();
    cm.applyClusters(new Map([['api', cluster('api')]]), []);
    cm.applyEndpoints(new Map([['api', cla('api', { endpoints: [lbe(1), lbe(2, 'UNHEALTHY'), lbe(3, 'UNHEALTHY'), lbe(4, 'UNHEALTHY')] })]]), []);
    const c = cm.get('api')!;
    const seen = new Set<number>();
    for (let i = 0; i < 8; i++) seen.add(c.pick(null)!.address.port);
    assert.deepEqual([...seen].sort(), [1, 2, 3, 4]);
    assert.equal(stats.counter('cluster.api.lb_healthy_panic').value, 8);
    assert.deepEqual(cm.cluster('api')!.priorityLoad!.panic, [true]);
  });

  it('keeps healthFlags and healthy in step and rebuilds only when serving changes', () => {
    const { cm } = manager();
    cm.applyClusters(new Map([['api', cluster('api', { healthyPanicThresholdPercent: 0 })]]), []);
    cm.applyEndpoints(new Map([['api', cla('api', { endpoints: [lbe(1), lbe(2), lbe(3)] })]]), []);
    const c = cm.get('api')!;
    const [a, , e3] = c.endpoints();
    assert.equal(c.pick(null)!.address.port, 1);
    c.setHealthFlag(e3!, HealthFlag.FailedActiveHc, true);
    assert.deepEqual([e3!.healthy, e3!.healthFlags], [false, HealthFlag.FailedActiveHc]);
    // rebuilt: the rotation restarts at the first endpoint (random() = 0)
    assert.equal(c.pick(null)!.address.port, 1);
    // a second flag on an endpoint already out of service changes nothing served: no rebuild, rotation goes on
    c.setHealthFlag(e3!, HealthFlag.FailedOutlierCheck, true);
    assert.equal(e3!.healthFlags, HealthFlag.FailedActiveHc | HealthFlag.FailedOutlierCheck);
    assert.equal(c.pick(null)!.address.port, 2);
    c.setHealthFlag(e3!, HealthFlag.FailedActiveHc, false);
    assert.equal(e3!.healthy, false);
    c.setHealthFlag(e3!, HealthFlag.FailedOutlierCheck, false);
    assert.deepEqual([e3!.healthy, e3!.healthFlags], [true, 0]);
    // EDS health keeps the other flags: UNHEALTHY then HEALTHY leaves an outlier ejection in place
    c.setHealthFlag(a!, HealthFlag.FailedOutlierCheck, true);
    cm.applyEndpoints(new Map([['api', cla('api', { endpoints: [lbe(1, 'DRAINING'), lbe(2), lbe(3)] })]]), []);
    assert.equal(a!.healthFlags, HealthFlag.FailedOutlierCheck | HealthFlag.FailedEds);
    cm.applyEndpoints(new Map([['api', cla('api', { endpoints: [lbe(1, 'HEALTHY'), lbe(2), lbe(3, 'DEGRADED')] })]]), []);
    assert.deepEqual([a!.healthFlags, a!.healthy], [HealthFlag.FailedOutlierCheck, false]);
    assert.deepEqual([e3!.degraded, e3!.healthy, e3!.healthFlags], [true, true, 0]);
  });

  it('honours the retry host predicate in pick(ctx)', () => {
    const { cm } = manager();
    cm.applyClusters(new Map([['api', cluster('api')]]), []);
    cm.applyEndpoints(new Map([['api', cla('api', { endpoints: [lbe(1), lbe(2), lbe(3)] })]]), []);
    const c = cm.get('api')!;
    const tried = new Set<UpstreamEndpoint>();
    const ctx: LbContext = {
      computeHash: () => null,
      shouldSelectAnotherHost: (ep) => tried.has(ep),
      hostSelectionRetryMaxAttempts: 3,
    };
    for (let i = 0; i < 3; i++) tried.add(c.pick(ctx)!);
    assert.deepEqual([...tried].map((e) => e.address.port).sort(), [1, 2, 3]);
  });

  for (const lbPolicy of ['RING_HASH', 'MAGLEV', 'RANDOM'] as const) {
    it(`builds ${lbPolicy} clusters`, () => {
      let x = 1;
      const { cm } = manager(() => ((x = (x * 48271) % 2147483647) / 2147483647));
      cm.applyClusters(new Map([['api', cluster('api', { lbPolicy, maglevTableSize: 257 })]]), []);
      cm.applyEndpoints(new Map([['api', cla('api', { endpoints: [lbe(1), lbe(2), lbe(3), lbe(4)] })]]), []);
      const c = cm.get('api')!;
      const ctx = (h: bigint): LbContext => ({ computeHash: () => h, shouldSelectAnotherHost: () => false, hostSelectionRetryMaxAttempts: 0 });
      const seen = new Set<number>();
      for (let h = 0n; h < 200n; h++) {
        const p = c.pick(ctx(h * 0x9e3779b97f4a7c15n))!.address.port;
        seen.add(p);
        if (lbPolicy !== 'RANDOM') assert.equal(c.pick(ctx(h * 0x9e3779b97f4a7c15n))!.address.port, p);
      }
      assert.equal(seen.size, 4);
    });
  }

  it('gives circuit-breaker resources per routing priority and keeps counts across CDS updates', () => {
    const { cm } = manager();
    const high: CircuitBreakerThresholds = { ...THRESHOLDS, maxRequests: 2 };
    cm.applyClusters(new Map([['api', cluster('api', { circuitBreakers: { default: { ...THRESHOLDS, maxConnections: 1 }, high } })]]), []);
    const c = cm.get('api')!;
    const d = c.resources('DEFAULT');
    assert.equal(d.connections.max, 1);
    assert.equal(c.resources('HIGH').requests.max, 2);
    assert.notEqual(c.resources('HIGH'), d);
    d.connections.inc();
    assert.equal(d.connections.canCreate(), false);
    cm.applyClusters(new Map([['api', cluster('api', { circuitBreakers: { default: { ...THRESHOLDS, maxConnections: 3 }, high } })]]), []);
    assert.equal(c.resources('DEFAULT'), d);
    assert.deepEqual([d.connections.count, d.connections.max, d.connections.canCreate()], [1, 3, true]);
  });

  it('creates every ClusterStats handle under cluster.<name>.', () => {
    const { cm, stats } = manager();
    cm.applyClusters(new Map([['api', cluster('api')]]), []);
    const c = cm.get('api')!;
    for (const [k, h] of Object.entries(c.stats)) assert.equal((h as { name: string }).name, `cluster.api.${k}`);
    assert.equal(c.stats.lb_healthy_panic, stats.counter('cluster.api.lb_healthy_panic'));
    assert.equal(c.stats.upstream_rq_pending_active, stats.gauge('cluster.api.upstream_rq_pending_active'));
  });

  it('runs an outlier detector while configured: hosts added/removed follow EDS, closing clears ejections', () => {
    const { cm } = manager();
    cm.applyClusters(new Map([['api', cluster('api', { outlierDetection: OUTLIER, healthyPanicThresholdPercent: 0 })]]), []);
    cm.applyEndpoints(new Map([['api', cla('api', { endpoints: [lbe(1), lbe(2)] })]]), []);
    const c = cm.get('api')!;
    const [e1, e2] = c.endpoints();
    assert.ok(cm.cluster('api')!.outlierDetector !== null);
    assert.ok(e1!.outlier !== null && e2!.outlier !== null);
    cm.applyEndpoints(new Map([['api', cla('api', { endpoints: [lbe(2), lbe(3)] })]]), []);
    const e3 = c.endpoints()[1]!;
    assert.equal(e1!.outlier, null);
    assert.ok(e3.outlier !== null);
    c.setHealthFlag(e2!, HealthFlag.FailedOutlierCheck, true);
    assert.equal(c.pick(null)!.address.port, 3);
    cm.applyClusters(new Map([['api', cluster('api', { outlierDetection: null, healthyPanicThresholdPercent: 0 })]]), []);
    assert.equal(cm.cluster('api')!.outlierDetector, null);
    assert.deepEqual([e2!.outlier, e2!.healthy, e2!.healthFlags], [null, true, 0]);
    cm.close();
  });

  it('runs active health checks: new hosts wait for their first pass, removing the checks clears the flag', async () => {
    const server = net.createServer((s) => s.destroy());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    const hc: HealthCheckConfig = {
      timeoutMs: 1000,
      intervalMs: 50,
      intervalJitterMs: 0,
      intervalJitterPercent: 0,
      unhealthyThreshold: 1,
      healthyThreshold: 1,
      noTrafficIntervalMs: 60_000,
      unhealthyIntervalMs: null,
      unhealthyEdgeIntervalMs: null,
      healthyEdgeIntervalMs: null,
      alwaysLogFailures: false,
      check: { kind: 'tcp', send: null, receive: [] },
    };
    const { cm } = manager();
    try {
      const lb1: LbEndpointConfig = { address: { address: '127.0.0.1', port }, healthStatus: 'HEALTHY', weight: 1, labels: {} };
      cm.applyClusters(new Map([['api', cluster('api', { healthChecks: [hc], healthyPanicThresholdPercent: 0 })]]), []);
      cm.applyEndpoints(new Map([['api', cla('api', { endpoints: [lb1] })]]), []);
      const c = cm.get('api')!;
      const ep = c.endpoints()[0]!;
      assert.ok(cm.cluster('api')!.healthChecker !== null);
      const deadline = Date.now() + 3000;
      while ((ep.healthFlags & HealthFlag.FailedActiveHc) !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(ep.healthy, true, `flags ${ep.healthFlags}`);
      assert.equal(c.pick(null), ep);
      // a flag left behind by a checker that goes away is cleared
      c.setHealthFlag(ep, HealthFlag.FailedActiveHc, true);
      cm.applyClusters(new Map([['api', cluster('api', { healthChecks: [], healthyPanicThresholdPercent: 0 })]]), []);
      assert.equal(cm.cluster('api')!.healthChecker, null);
      assert.deepEqual([ep.healthy, ep.healthFlags], [true, 0]);
    } finally {
      cm.close();
      server.close();
    }
  });
});
