import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UpstreamEndpoint } from '../../../../sidecar/contracts.js';
import { ClusterManagerImpl } from '../../../../sidecar/upstream/cluster-manager.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { StatsStore } from '../../../../src/observability/stats.js';
import type { ClusterConfig, EndpointsConfig, HealthStatus, LbEndpointConfig } from '../../../../src/xds/resources/types.js';

function cluster(name: string, over: Partial<ClusterConfig> = {}): ClusterConfig {
  return {
    name,
    type: 'EDS',
    edsServiceName: name,
    connectTimeoutMs: 1000,
    lbPolicy: 'ROUND_ROBIN',
    leastRequestChoiceCount: 2,
    loadAssignment: null,
    upstreamIdleTimeoutMs: 3_600_000,
    maxRequestsPerConnection: 0,
    perConnectionBufferLimitBytes: 1 << 20,
    raw: {},
    ...over,
  };
}

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
    raw: {},
  };
}

function manager() {
  const stats = new StatsStore();
  const cm = new ClusterManagerImpl(stats, silentLogger(), () => 0);
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
    assert.equal(cm.get('api')!.pick()!.address.port, 1);
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
    assert.equal(cm.get('api')!.pick(), null);
    cm.applyEndpoints(new Map([['api', cla('api', { endpoints: [lbe(7)] })]]), []);
    assert.equal(cm.get('api')!.pick()!.address.port, 7);
    assert.equal(cm.get('static')!.pick()!.address.port, 9);
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
    assert.equal(cm.get('b')!.pick(), null);
    assert.equal(cm.get('b')!.endpoints().length, 0);
  });

  it('derives health from health_status and skips unhealthy endpoints', () => {
    const { cm, stats } = manager();
    cm.applyClusters(new Map([['api', cluster('api')]]), []);
    cm.applyEndpoints(
      new Map([['api', cla('api', { endpoints: [lbe(1, 'UNHEALTHY'), lbe(2, 'UNKNOWN'), lbe(3, 'DRAINING'), lbe(4, 'TIMEOUT'), lbe(5, 'HEALTHY')] })]]),
      [],
    );
    const c = cm.get('api')!;
    assert.deepEqual(c.endpoints().map((e) => e.healthy), [false, true, false, false, true]);
    const picked = new Set<number>();
    for (let i = 0; i < 10; i++) picked.add(c.pick()!.address.port);
    assert.deepEqual([...picked].sort(), [2, 5]);
    cm.applyEndpoints(new Map([['api', cla('api', { endpoints: [lbe(1, 'UNHEALTHY')] })]]), []);
    assert.equal(c.pick(), null);
    assert.equal(stats.counter('cluster.api.upstream_cx_none_healthy').value, 1);
  });

  it('fails over to the next priority when a priority has no healthy endpoint', () => {
    const { cm } = manager();
    cm.applyClusters(new Map([['api', cluster('api')]]), []);
    const update = (p0: HealthStatus) =>
      cm.applyEndpoints(new Map([['api', cla('api', { priority: 1, endpoints: [lbe(20)] }, { priority: 0, endpoints: [lbe(10, p0)] })]]), []);
    update('HEALTHY');
    const c = cm.get('api')!;
    for (let i = 0; i < 3; i++) assert.equal(c.pick()!.address.port, 10);
    update('UNHEALTHY');
    for (let i = 0; i < 3; i++) assert.equal(c.pick()!.address.port, 20);
    assert.equal(cm.cluster('api')!.activePriority, 1);
    update('HEALTHY');
    assert.equal(c.pick()!.address.port, 10);
    // Flipping health out of band (outlier ejection) takes effect after rebuildLoadBalancer().
    c.endpoints()[1]!.healthy = false;
    cm.cluster('api')!.rebuildLoadBalancer();
    assert.equal(c.pick()!.address.port, 20);
  });

  it('weights endpoints by endpoint weight x locality weight', () => {
    const { cm } = manager();
    cm.applyClusters(new Map([['api', cluster('api')]]), []);
    cm.applyEndpoints(new Map([['api', cla('api', { weight: 3, endpoints: [lbe(1)] }, { weight: 1, endpoints: [lbe(2, 'HEALTHY', 2)] })]]), []);
    const counts = new Map<number, number>();
    for (let i = 0; i < 50; i++) {
      const p = cm.get('api')!.pick()!.address.port;
      counts.set(p, (counts.get(p) ?? 0) + 1);
    }
    assert.deepEqual([counts.get(1), counts.get(2)], [30, 20]);
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
    assert.equal(c.pick()!.address.port, 2);
    c.endpoints()[0]!.activeRequests = 0;
    c.endpoints()[1]!.activeRequests = 4;
    assert.equal(c.pick()!.address.port, 1);
    c.stats.upstream_rq_total.inc();
    assert.equal(stats.counter('cluster.api.upstream_rq_total').value, 1);
    assert.equal(c.stats.upstream_cx_active, stats.gauge('cluster.api.upstream_cx_active'));
  });
});
