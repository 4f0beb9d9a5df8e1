// The real @grpc/grpc-js-xds client resolves xds:///greeter through Tessera's ADS server and follows an update.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import { SnapshotCache } from '../../control-plane/snapshot/snapshot-cache.js';
import type { NodeResources } from '../../control-plane/snapshot/snapshot.js';
import { XdsServer } from '../../control-plane/server/xds-server.js';
import { silentLogger } from '../../src/observability/logger.js';
import { StatsStore } from '../../src/observability/stats.js';
import { TypeUrl } from '../../src/xds/type-urls.js';
import { apiListener, edsCluster, loadAssignment, routeConfig } from '../helpers/ads-test-client.js';
import { hello, startGreeter, xdsGreeterClient, type GreeterClient } from '../helpers/grpc-greeter.js';

function greeterResources(port: number): NodeResources {
  return {
    [TypeUrl.Listener]: [{ name: 'greeter', resource: apiListener('greeter', 'greeter') }],
    [TypeUrl.RouteConfiguration]: [{ name: 'greeter', resource: routeConfig('greeter', 'greeter', ['greeter']) }],
    [TypeUrl.Cluster]: [{ name: 'greeter', resource: edsCluster('greeter') }],
    [TypeUrl.ClusterLoadAssignment]: [{ name: 'greeter', resource: loadAssignment('greeter', [['127.0.0.1', port]]) }],
  };
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  for (let waited = 0; !cond(); waited += 50) {
    if (waited >= ms) assert.fail(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function ackedVersion(xds: XdsServer, typeUrl: string): string | null {
  const p = xds.status().find((s) => s.nodeId === 'proxyless-greeter');
  return p?.types.find((t) => t.typeUrl === typeUrl)?.lastAckedVersion ?? null;
}

describe('grpc-js-xds interop', { timeout: 30_000 }, () => {
  const cache = new SnapshotCache();
  const stats = new StatsStore();
  const xds = new XdsServer({ cache, logger: silentLogger(), stats, shutdownGraceMs: 500 });
  let a: { server: grpc.Server; port: number };
  let b: { server: grpc.Server; port: number };
  let client: GreeterClient | null = null;

  before(async () => {
    const xdsPort = await xds.listen('127.0.0.1', 0);
    a = await startGreeter('A');
    b = await startGreeter('B');
    assert.deepEqual(cache.setFallback(greeterResources(a.port)), []);
    client = await xdsGreeterClient(xdsPort, 'proxyless-greeter', 'xds:///greeter');
  });

  after(async () => {
    client?.close();
    await xds.close();
    a?.server.forceShutdown();
    b?.server.forceShutdown();
  });

  it('reaches A through the fallback snapshot, then B after the update, and ACKs every type', async () => {
    assert.equal(await hello(client!), 'A');

    const snap = cache.get('proxyless-greeter')!;
    const urls = [TypeUrl.Listener, TypeUrl.RouteConfiguration, TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment];
    await waitFor(() => urls.every((u) => ackedVersion(xds, u) === snap.version(u)));
    const st = xds.status().find((p) => p.nodeId === 'proxyless-greeter');
    assert.ok(st, 'the grpc-js-xds stream is listed');
    assert.equal(st.mode, 'sotw');
    for (const t of st.types) {
      assert.equal(t.lastAckedVersion, snap.version(t.typeUrl), `${t.typeUrl} ACKed at the served version`);
      assert.equal(t.nacked, false);
    }
    assert.deepEqual(st.types.map((t) => [t.typeUrl, t.wildcard, t.names]), [
      [TypeUrl.Cluster, false, ['greeter']],
      [TypeUrl.ClusterLoadAssignment, false, ['greeter']],
      [TypeUrl.Listener, false, ['greeter']],
      [TypeUrl.RouteConfiguration, false, ['greeter']],
    ]);
    assert.ok((stats.snapshot('xds.')['xds.ack_total'] ?? 0) >= 4);
    assert.equal(stats.snapshot('xds.')['xds.nack_total'] ?? 0, 0);

    assert.deepEqual(cache.setFallback(greeterResources(b.port)), []);
    let last = '';
    for (let i = 0; i < 50 && last !== 'B'; i++) {
      last = await hello(client!);
      if (last !== 'B') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(last, 'B');
    // The client ACKs the new EDS version (the ACK may trail the first call that reached B).
    const want = cache.get('proxyless-greeter')!.version(TypeUrl.ClusterLoadAssignment);
    await waitFor(() => ackedVersion(xds, TypeUrl.ClusterLoadAssignment) === want);
    assert.equal(stats.snapshot('xds.')['xds.nack_total'] ?? 0, 0);
  });

  it('gets a NACK with a reason for a cluster the client rejects, which is not resent; traffic keeps flowing', async () => {
    const cdsBefore = ackedVersion(xds, TypeUrl.Cluster);
    const bad = greeterResources(b.port);
    bad[TypeUrl.Cluster] = [{ name: 'greeter', resource: { ...edsCluster('greeter'), lb_policy: 'RANDOM' } }];
    assert.deepEqual(cache.setFallback(bad), []);
    await waitFor(() => xds.nacks().length > 0);
    const rec = xds.nacks()[0]!;
    assert.equal(rec.nodeId, 'proxyless-greeter');
    assert.equal(rec.typeUrl, TypeUrl.Cluster);
    assert.equal(rec.version, cache.get('proxyless-greeter')!.version(TypeUrl.Cluster));
    assert.notEqual(rec.reason, '');
    const cds = xds.status()[0]!.types.find((t) => t.typeUrl === TypeUrl.Cluster)!;
    assert.equal(cds.nacked, true);
    assert.equal(cds.lastAckedVersion, cdsBefore);
    const pushes = stats.snapshot('xds.')['xds.push_total'];
    assert.equal(await hello(client!), 'B');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(stats.snapshot('xds.')['xds.push_total'], pushes, 'the rejected CDS version is not resent');
    assert.equal(xds.nacks().length, 1);
  });

  it('pushes nothing more once the client channel closes (empty resource_names unsubscribe, or stream end)', async () => {
    client!.close();
    client = null;
    await waitFor(() => {
      const p = xds.status().find((s) => s.nodeId === 'proxyless-greeter');
      return !p || p.types.every((t) => !t.wildcard && t.names.length === 0);
    });
    const pushes = stats.snapshot('xds.')['xds.push_total'];
    assert.deepEqual(cache.setFallback(greeterResources(a.port)), []);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(stats.snapshot('xds.')['xds.push_total'], pushes, 'nothing is pushed to an unsubscribed client');
  });
});
