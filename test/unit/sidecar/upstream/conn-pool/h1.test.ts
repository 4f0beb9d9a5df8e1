import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { TimerWheel } from '../../../../../src/core/timer-wheel.js';
import { HeaderMap } from '../../../../../sidecar/http/header-map.js';
import { H1ConnPools, type H1UpstreamConnection } from '../../../../../sidecar/upstream/conn-pool/h1.js';
import type { UpstreamCallbacks, UpstreamRequest } from '../../../../../sidecar/upstream/conn-pool/pool.js';
import { startHttpUpstream, type Listening } from '../../../../helpers/http-raw.js';
import { testContext } from '../../../../helpers/http-fakes.js';

const toClose: Listening[] = [];
after(async () => {
  for (const l of toClose) await l.close();
});

/** Sends one GET through the pool and resolves with status/body. */
function request(pools: H1ConnPools, cluster: Parameters<H1ConnPools['newStream']>[0], path: string): Promise<{ status: number; body: string; conn: H1UpstreamConnection }> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let body = '';
    let conn: H1UpstreamConnection | null = null;
    const cb: UpstreamCallbacks = {
      onPoolReady(c) {
        const h = new HeaderMap();
        h.add('host', 'x');
        conn = c as H1UpstreamConnection;
        c.writeHead('GET', path, 'http', h, true, false);
      },
      onPoolFailure: (r) => reject(new Error(`pool failure ${r}`)),
      onUpstreamHeaders: (s: number) => {
        status = s;
      },
      onUpstreamData: (b) => {
        body += b.toString();
      },
      onUpstreamComplete: () => resolve({ status, body, conn: conn! }),
      onUpstreamReset: (r) => reject(new Error(`reset ${r}`)),
      onUpstreamDrain: () => {},
      onUpstreamUpgraded: () => reject(new Error('upgrade')),
    };
    const ep = cluster.pick(null)!;
    const req: UpstreamRequest | null = pools.newStream(cluster, ep, 'DEFAULT', cb);
    if (req === null) throw new Error('overflow');
    if (req.connected) cb.onPoolReady(req);
  });
}

describe('H1ConnPools', () => {
  it('reuses a keep-alive connection and honours max_requests_per_connection', async () => {
    const up = await startHttpUpstream((req, res) => res.end(req.url));
    toClose.push(up);
    const t = testContext();
    const cluster = t.clusters.add('c', [up.port], { maxRequestsPerConnection: 2 });
    const pools = new H1ConnPools(t.clusters);
    const a = await request(pools, cluster, '/1');
    const b = await request(pools, cluster, '/2');
    const c = await request(pools, cluster, '/3');
    assert.deepEqual([a.body, b.body, c.body], ['/1', '/2', '/3']);
    assert.equal(a.conn, b.conn);
    assert.notEqual(b.conn, c.conn);
    assert.equal(t.stats.snapshot()['cluster.c.upstream_cx_total'], 2);
    pools.closeAll();
  });

  it('closes idle connections after the upstream idle timeout and on endpoint removal', async () => {
    const up = await startHttpUpstream((req, res) => res.end(req.url));
    toClose.push(up);
    const t = testContext();
    const cluster = t.clusters.add('c', [up.port], { upstreamIdleTimeoutMs: 100 });
    const pools = new H1ConnPools(t.clusters, new TimerWheel({ tickMs: 20 }));
    const ep = cluster.eps[0]!;
    await request(pools, cluster, '/1');
    assert.equal(pools.pool(cluster, ep).idleCount, 1);
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(pools.pool(cluster, ep).idleCount, 0);
    await request(pools, cluster, '/2');
    assert.equal(pools.pool(cluster, ep).idleCount, 1);
    const p = pools.pool(cluster, ep);
    t.clusters.remove(ep);
    assert.equal(p.idleCount, 0);
    assert.equal(p.totalCount, 0);
    pools.closeAll();
  });
});
