// A real sidecar process against the real ADS server (in this test process, fed hand-built Envoy resources):
// an update the sidecar cannot honour is NACKed with the reason, never re-sent, and traffic keeps flowing
// on the last good config; the next good update is ACKed and applied. Run in SotW and delta modes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { XdsServer } from '../../control-plane/server/xds-server.js';
import { SnapshotCache } from '../../control-plane/snapshot/snapshot-cache.js';
import { silentLogger } from '../../src/observability/logger.js';
import { StatsStore } from '../../src/observability/stats.js';
import { TypeUrl } from '../../src/xds/type-urls.js';
import { edsCluster, loadAssignment, routeConfig, socketListener } from '../helpers/ads-test-client.js';
import { eventually, freePort, request, startLoad, startTessera, startUpstream, stopChild, tempDir, type ReadyChild, type Upstream } from '../helpers/mesh.js';

function resources(port: number, upstreamPort: number, cluster: Record<string, unknown>) {
  return {
    [TypeUrl.Listener]: [{ name: 'main', resource: socketListener('main', port, 'routes') }],
    [TypeUrl.RouteConfiguration]: [{ name: 'routes', resource: routeConfig('routes', 'backend') }],
    [TypeUrl.Cluster]: [{ name: 'backend', resource: cluster }],
    [TypeUrl.ClusterLoadAssignment]: [{ name: 'backend', resource: loadAssignment('backend', [['127.0.0.1', upstreamPort]]) }],
  };
}

for (const mode of ['sotw', 'delta'] as const) {
  describe(`xDS NACK keeps the last good config (${mode})`, { timeout: 60000 }, () => {
    const t = tempDir();
    const cache = new SnapshotCache();
    const server = new XdsServer({ cache, logger: silentLogger(), stats: new StatsStore() });
    let up1: Upstream;
    let up2: Upstream;
    let sidecar: ReadyChild;
    let listenPort = 0;
    const node = `nack-${mode}`;

    before(async () => {
      up1 = await startUpstream('one');
      up2 = await startUpstream('two');
      listenPort = await freePort();
      assert.deepEqual(cache.set(node, resources(listenPort, up1.port, edsCluster('backend'))), []);
      const xdsPort = await server.listen('127.0.0.1', 0);
      const args = ['sidecar', '--node-id', node, '--xds', `127.0.0.1:${xdsPort}`];
      if (mode === 'delta') args.push('--delta');
      sidecar = await startTessera(args, { dir: t.dir, name: node });
    });

    after(async () => {
      if (sidecar) await stopChild(sidecar);
      await server.close();
      await up1?.close();
      await up2?.close();
      t.cleanup();
    });

    test('unsupported field → NACK with field path; traffic keeps flowing; fix → ACK', async () => {
      const url = `http://127.0.0.1:${listenPort}/x`;
      const first = await request(url);
      assert.equal(first.status, 200);
      assert.equal(first.headers['x-upstream'], 'one');

      const load = startLoad(url, { concurrency: 2, maxMs: 30000 });
      // A cluster with a load-balancing policy the sidecar does not implement, plus an endpoint move.
      const bad = { ...edsCluster('backend'), lb_policy: 'CLUSTER_PROVIDED' };
      assert.deepEqual(cache.set(node, resources(listenPort, up2.port, bad)), []);
      const nack = await eventually(async () => server.nacks().find((n) => n.nodeId === node), 10000);
      assert.equal(nack.typeUrl, TypeUrl.Cluster);
      assert.match(nack.reason, /lb_policy/);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(server.nacks().filter((n) => n.nodeId === node && n.typeUrl === TypeUrl.Cluster).length, 1, 'the rejected version is not re-sent');

      const good = { ...edsCluster('backend'), lb_policy: 'LEAST_REQUEST' };
      assert.deepEqual(cache.set(node, resources(listenPort, up2.port, good)), []);
      await eventually(async () => (await request(url)).headers['x-upstream'] === 'two', 10000);
      const stats = await load.stop();
      assert.ok(stats.ok > 20, `load ran (${stats.ok})`);
      assert.equal(stats.failed, 0, stats.errors.join(' | '));
      const status = server.status().find((s) => s.nodeId === node);
      const cds = status?.types.find((x) => x.typeUrl === TypeUrl.Cluster);
      assert.ok(cds && !cds.nacked, JSON.stringify(cds));
    });
  });
}
