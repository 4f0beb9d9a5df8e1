import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { XdsSink } from '../../../../sidecar/contracts.js';
import { AdsClient } from '../../../../sidecar/xds/ads-client.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { StatsStore } from '../../../../src/observability/stats.js';
import type { DeltaDiscoveryRequest, DiscoveryRequest } from '../../../../src/xds/ads-service.js';
import { TypeUrl } from '../../../../src/xds/type-urls.js';
import { FakeAdsServer, type RecordedRequest } from '../../../helpers/fake-ads-server.js';
import { cla, edsCluster, hcm, listener, routeConfig, staticCluster } from '../../src/xds/resources/fixtures.js';

const CDS = TypeUrl.Cluster;
const EDS = TypeUrl.ClusterLoadAssignment;
const LDS = TypeUrl.Listener;
const RDS = TypeUrl.RouteConfiguration;

interface SinkCall {
  typeUrl: string;
  upserts: string[];
  removals: string[];
}

/** Records every apply; names in `failNames` are refused the way a listener that cannot bind would be. */
class RecordingSink implements XdsSink {
  readonly calls: SinkCall[] = [];
  readonly failNames = new Set<string>();
  async apply(typeUrl: string, upserts: ReadonlyMap<string, unknown>, removals: readonly string[]): Promise<string[]> {
    this.calls.push({ typeUrl, upserts: [...upserts.keys()].sort(), removals: [...removals].sort() });
    return [...upserts.keys()].filter((n) => this.failNames.has(n)).map((n) => `${n}: cannot bind`);
  }
  callsFor(typeUrl: string): SinkCall[] {
    return this.calls.filter((c) => c.typeUrl === typeUrl);
  }
}

type Sotw = { kind: 'sotw'; req: DiscoveryRequest };
type Delta = { kind: 'delta'; req: DeltaDiscoveryRequest };
const sotw = (type: string, f: (r: DiscoveryRequest) => boolean = () => true) => (r: RecordedRequest): r is Sotw => r.kind === 'sotw' && r.req.type_url === type && f(r.req);
const delta = (type: string, f: (r: DeltaDiscoveryRequest) => boolean = () => true) => (r: RecordedRequest): r is Delta => r.kind === 'delta' && r.req.type_url === type && f(r.req);

async function setup(apiType: 'GRPC' | 'DELTA_GRPC') {
  const server = await FakeAdsServer.start();
  const sink = new RecordingSink();
  const stats = new StatsStore();
  const client = new AdsClient({
    node: { id: 'node-1', cluster: 'web', metadata: { team: 'a' }, locality: { region: 'eu', zone: '', subZone: '' } },
    server: { address: '127.0.0.1', port: server.port },
    apiType,
    sink,
    logger: silentLogger(),
    stats,
    backoff: { baseMs: 20, maxMs: 100 },
    initialFetchTimeoutMs: 0,
  });
  let ready = false;
  void client.ready.then(() => (ready = true));
  client.start();
  return { server, sink, stats, client, isReady: () => ready };
}

/** Lets queued stream events and promise callbacks run (bounded). */
async function settle(ms = 50): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

test('SotW: wildcard CDS/LDS, ACKs, EDS/RDS follow, NACK keeps last good, removals, reconnect with last versions', async () => {
  let { server, sink, stats, client, isReady } = await setup('GRPC');
  try {
    const cdsInit = await server.waitForRequest(sotw(CDS, (r) => r.response_nonce === ''));
    assert.deepEqual(cdsInit.req.resource_names, []);
    assert.equal(cdsInit.req.node?.id, 'node-1');
    await server.waitForRequest(sotw(LDS));

    // CDS v1 → ACK, EDS subscription for the EDS cluster's service name.
    let mark = server.requests.length;
    const n1 = server.pushSotw(CDS, '1', [edsCluster('api'), staticCluster('local')]);
    const ack1 = await server.waitForRequest(sotw(CDS, (r) => r.response_nonce === n1), mark);
    assert.equal(ack1.req.version_info, '1');
    assert.equal(ack1.req.error_detail, null);
    const edsSub = await server.waitForRequest(sotw(EDS), mark);
    assert.deepEqual(edsSub.req.resource_names, ['api-svc']);
    assert.deepEqual(sink.callsFor(CDS), [{ typeUrl: CDS, upserts: ['api', 'local'], removals: [] }]);

    // LDS v1 → ACK, RDS subscription.
    mark = server.requests.length;
    const n2 = server.pushSotw(LDS, 'l1', [listener('http')]);
    await server.waitForRequest(sotw(LDS, (r) => r.response_nonce === n2 && r.version_info === 'l1'), mark);
    const rdsSub = await server.waitForRequest(sotw(RDS), mark);
    assert.deepEqual(rdsSub.req.resource_names, ['routes']);
    assert.equal(isReady(), false, 'not ready before EDS and RDS arrived');

    mark = server.requests.length;
    const n3 = server.pushSotw(EDS, 'e1', [cla('api-svc')]);
    const n4 = server.pushSotw(RDS, 'r1', [routeConfig('routes')]);
    await server.waitForRequest(sotw(EDS, (r) => r.response_nonce === n3 && r.version_info === 'e1'), mark);
    await server.waitForRequest(sotw(RDS, (r) => r.response_nonce === n4 && r.version_info === 'r1'), mark);
    await client.ready;
    assert.equal(stats.counter('xds.update_success').value, 4);
    assert.equal(stats.gauge('xds.connected').value, 1);

    // CDS v2: one changed, one unchanged, one invalid → NACK with the last accepted version; the valid change applied.
    mark = server.requests.length;
    const before = sink.calls.length;
    const n5 = server.pushSotw(CDS, '2', [edsCluster('api', { connect_timeout: { seconds: 2 } }), staticCluster('local'), edsCluster('bad', { outlier_detection: { interval: {} } })]);
    const nack = await server.waitForRequest(sotw(CDS, (r) => r.response_nonce === n5), mark);
    assert.equal(nack.req.version_info, '1');
    assert.equal(nack.req.error_detail?.code, 3);
    assert.match(nack.req.error_detail?.message ?? '', /Cluster "bad": outlier_detection\.interval: must be greater than 0/);
    assert.deepEqual(sink.calls.slice(before), [{ typeUrl: CDS, upserts: ['api'], removals: [] }]);
    assert.equal(stats.counter('xds.update_rejected').value, 1);

    // CDS v3: 'local' now invalid → its last good version is kept (no removal, nothing re-applied).
    mark = server.requests.length;
    const before3 = sink.calls.length;
    const n6 = server.pushSotw(CDS, '3', [edsCluster('api', { connect_timeout: { seconds: 2 } }), { ...staticCluster('local'), lb_policy: 'CLUSTER_PROVIDED' }]);
    const nack3 = await server.waitForRequest(sotw(CDS, (r) => r.response_nonce === n6), mark);
    assert.equal(nack3.req.version_info, '1');
    assert.match(nack3.req.error_detail?.message ?? '', /Cluster "local": lb_policy: CLUSTER_PROVIDED not supported by Tessera/);
    assert.equal(sink.calls.length, before3, 'nothing changed, nobody notified');
    const snap = client.snapshot()[CDS]!;
    assert.deepEqual(Object.keys(snap.resources), ['api', 'local']);
    assert.equal(snap.resources.local!.version, '2', 'the version that last carried the good copy');
    assert.equal((snap.resources.local!.raw as { lb_policy?: string }).lb_policy, undefined);
    assert.equal(snap.versionInfo, '1');
    assert.match(snap.lastError?.message ?? '', /CLUSTER_PROVIDED/);

    // EDS/RDS absent from a SotW response are not removed; CDS/LDS absent are.
    mark = server.requests.length;
    const before4 = sink.calls.length;
    const n7 = server.pushSotw(EDS, 'e2', []);
    await server.waitForRequest(sotw(EDS, (r) => r.response_nonce === n7), mark);
    assert.equal(sink.calls.length, before4);
    const n8 = server.pushSotw(CDS, '4', [edsCluster('api', { connect_timeout: { seconds: 2 } })]);
    const ack4 = await server.waitForRequest(sotw(CDS, (r) => r.response_nonce === n8), mark);
    assert.equal(ack4.req.version_info, '4');
    assert.deepEqual(sink.calls.slice(before4), [{ typeUrl: CDS, upserts: [], removals: ['local'] }]);

    // Control plane dies; a new one on the same port gets the last versions, names and an empty nonce.
    const port = server.port;
    const removalsBefore = sink.calls.length;
    await server.close();
    await settle(100);
    assert.equal(stats.gauge('xds.connected').value, 0);
    server = await FakeAdsServer.start(port);
    const re = await server.waitForRequest(sotw(CDS));
    assert.deepEqual([re.req.version_info, re.req.response_nonce, re.req.resource_names], ['4', '', []]);
    const reEds = await server.waitForRequest(sotw(EDS));
    assert.deepEqual([reEds.req.version_info, reEds.req.resource_names], ['e2', ['api-svc']]);
    const reLds = await server.waitForRequest(sotw(LDS));
    assert.equal(reLds.req.version_info, 'l1');
    const reRds = await server.waitForRequest(sotw(RDS));
    assert.deepEqual([reRds.req.version_info, reRds.req.resource_names], ['r1', ['routes']]);
    assert.equal(sink.calls.length, removalsBefore, 'nothing removed while disconnected');
    assert.ok(stats.counter('xds.reconnect_total').value >= 1);

    // Same resources again after the restart: ACKed, nobody notified.
    mark = server.requests.length;
    const n9 = server.pushSotw(CDS, '4', [edsCluster('api', { connect_timeout: { seconds: 2 } })]);
    await server.waitForRequest(sotw(CDS, (r) => r.response_nonce === n9 && r.error_detail === null), mark);
    assert.equal(sink.calls.length, removalsBefore);

    // The EDS cluster goes away: EDS is unsubscribed and its endpoints removed.
    mark = server.requests.length;
    server.pushSotw(CDS, '5', []);
    const unsub = await server.waitForRequest(sotw(EDS), mark);
    assert.deepEqual(unsub.req.resource_names, []);
    await settle();
    assert.deepEqual(sink.callsFor(EDS).at(-1), { typeUrl: EDS, upserts: [], removals: ['api-svc'] });
  } finally {
    client.stop();
    await server.close();
  }
});

test('SotW: a resource the sink refuses is NACKed and not cached', async () => {
  const { server, sink, client } = await setup('GRPC');
  try {
    await server.waitForRequest(sotw(LDS));
    sink.failNames.add('busy');
    const mark = server.requests.length;
    const n = server.pushSotw(LDS, 'v1', [listener('ok', hcm({ rds: undefined, route_config: routeConfig('inline') })), listener('busy')]);
    const nack = await server.waitForRequest(sotw(LDS, (r) => r.response_nonce === n), mark);
    assert.equal(nack.req.version_info, '');
    assert.match(nack.req.error_detail?.message ?? '', /Listener: busy: cannot bind/);
    assert.deepEqual(Object.keys(client.snapshot()[LDS]!.resources), ['ok']);
    // 'busy' was not cached: the same listener sent again is offered to the sink again.
    sink.failNames.clear();
    const m2 = server.requests.length;
    const n2 = server.pushSotw(LDS, 'v2', [listener('ok', hcm({ rds: undefined, route_config: routeConfig('inline') })), listener('busy')]);
    const ack = await server.waitForRequest(sotw(LDS, (r) => r.response_nonce === n2), m2);
    assert.equal(ack.req.error_detail, null);
    assert.deepEqual(sink.callsFor(LDS).at(-1), { typeUrl: LDS, upserts: ['busy'], removals: [] });
  } finally {
    client.stop();
    await server.close();
  }
});

test('delta: subscribe, ACK/NACK, named subscriptions follow CDS/LDS, removals, reconnect with initial_resource_versions', async () => {
  let { server, sink, stats, client } = await setup('DELTA_GRPC');
  try {
    const init = await server.waitForRequest(delta(CDS));
    assert.deepEqual([init.req.resource_names_subscribe, init.req.response_nonce, init.req.initial_resource_versions], [[], '', {}]);
    await server.waitForRequest(delta(LDS));

    let mark = server.requests.length;
    const n1 = server.pushDelta(CDS, [['api', 'c1', edsCluster('api')], ['local', 'c1', staticCluster('local')]], [], 'sys1');
    const ack = await server.waitForRequest(delta(CDS, (r) => r.response_nonce === n1), mark);
    assert.equal(ack.req.error_detail, null);
    const sub = await server.waitForRequest(delta(EDS), mark);
    assert.deepEqual(sub.req.resource_names_subscribe, ['api-svc']);

    mark = server.requests.length;
    const n2 = server.pushDelta(LDS, [['http', 'l1', listener('http')]]);
    await server.waitForRequest(delta(LDS, (r) => r.response_nonce === n2), mark);
    const rds = await server.waitForRequest(delta(RDS), mark);
    assert.deepEqual(rds.req.resource_names_subscribe, ['routes']);
    server.pushDelta(EDS, [['api-svc', 'e1', cla('api-svc')]]);
    server.pushDelta(RDS, [['routes', 'r1', routeConfig('routes')]]);
    await client.ready;

    // Invalid update → NACK naming the resource and field; the previous good version stays.
    mark = server.requests.length;
    const n3 = server.pushDelta(CDS, [['local', 'c2', { ...staticCluster('local'), health_checks: [{ timeout: { seconds: 1 } }] }]]);
    const nack = await server.waitForRequest(delta(CDS, (r) => r.response_nonce === n3), mark);
    assert.equal(nack.req.error_detail?.code, 3);
    assert.match(nack.req.error_detail?.message ?? '', /Cluster "local": health_checks\[0\]\.interval: required/);
    assert.equal(client.snapshot()[CDS]!.resources.local!.version, 'c1');
    assert.equal(stats.counter('xds.update_rejected').value, 1);

    // A name whose resource is not the one inside is an error too.
    mark = server.requests.length;
    const n4 = server.pushDelta(CDS, [['other', 'c3', edsCluster('api')]]);
    const nack2 = await server.waitForRequest(delta(CDS, (r) => r.response_nonce === n4), mark);
    assert.match(nack2.req.error_detail?.message ?? '', /Cluster "other": the resource inside is named "api"/);

    // Reconnect: initial_resource_versions carry what was accepted.
    const port = server.port;
    await server.close();
    server = await FakeAdsServer.start(port);
    const re = await server.waitForRequest(delta(CDS));
    assert.deepEqual(re.req.initial_resource_versions, { api: 'c1', local: 'c1' });
    assert.equal(re.req.response_nonce, '');
    const reEds = await server.waitForRequest(delta(EDS));
    assert.deepEqual([reEds.req.resource_names_subscribe, reEds.req.initial_resource_versions], [['api-svc'], { 'api-svc': 'e1' }]);
    const reRds = await server.waitForRequest(delta(RDS));
    assert.deepEqual(reRds.req.initial_resource_versions, { routes: 'r1' });

    // Removal of the EDS cluster: sink told, EDS unsubscribed.
    mark = server.requests.length;
    const n5 = server.pushDelta(CDS, [], ['api']);
    await server.waitForRequest(delta(CDS, (r) => r.response_nonce === n5 && r.error_detail === null), mark);
    const unsub = await server.waitForRequest(delta(EDS, (r) => r.resource_names_unsubscribe.length > 0), mark);
    assert.deepEqual(unsub.req.resource_names_unsubscribe, ['api-svc']);
    await settle();
    assert.ok(sink.calls.some((c) => c.typeUrl === CDS && c.removals.includes('api')));
    assert.deepEqual(sink.callsFor(EDS).at(-1), { typeUrl: EDS, upserts: [], removals: ['api-svc'] });
  } finally {
    client.stop();
    await server.close();
  }
});

test('stop() while the control plane is unreachable ends retries', async () => {
  const server = await FakeAdsServer.start();
  const port = server.port;
  await server.close();
  const stats = new StatsStore();
  const client = new AdsClient({
    node: { id: 'n', cluster: '', metadata: {}, locality: { region: '', zone: '', subZone: '' } },
    server: { address: '127.0.0.1', port },
    apiType: 'GRPC',
    sink: new RecordingSink(),
    logger: silentLogger(),
    stats,
    backoff: { baseMs: 10, maxMs: 40 },
    initialFetchTimeoutMs: 50,
  });
  client.start();
  await client.ready; // resolves through the initial fetch timeout
  await settle(300);
  client.stop();
  const n = stats.counter('xds.reconnect_total').value;
  assert.ok(n >= 1, `expected reconnect attempts, got ${n}`);
  await settle(150);
  assert.equal(stats.counter('xds.reconnect_total').value, n);
});
