import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
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

  it('writes a sized request head with its first body chunk, and alone when the body comes in a later turn', async () => {
    // A raw upstream that records the chunks it reads and answers once it has the whole 1000-byte body.
    const reads: string[][] = [];
    const srv = createServer((sock: Socket) => {
      const mine: string[] = [];
      reads.push(mine);
      let all = '';
      sock.on('data', (b: Buffer) => {
        mine.push(b.toString('latin1'));
        all += b.toString('latin1');
        const at = all.indexOf('\r\n\r\n');
        if (at >= 0 && all.length - at - 4 >= 1000) {
          all = '';
          sock.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        }
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    after(() => new Promise<void>((r) => srv.close(() => r())));
    const t = testContext();
    const cluster = t.clusters.add('c', [(srv.address() as AddressInfo).port]);
    const pools = new H1ConnPools(t.clusters);
    const post = (bodyLater: boolean): Promise<number> =>
      new Promise((resolve, reject) => {
        let status = 0;
        const body = Buffer.alloc(1000, 'b');
        const cb: UpstreamCallbacks = {
          onPoolReady(c) {
            const h = new HeaderMap();
            h.add('host', 'x');
            h.add('content-length', '1000');
            c.writeHead('POST', '/p', 'http', h, false, false);
            const send = (): void => {
              c.writeBody(body);
              c.endRequest(null);
            };
            // Later in the same turn (as HTTP/2 DATA after HEADERS), or in a later turn.
            if (bodyLater) setTimeout(send, 100);
            else queueMicrotask(send);
          },
          onPoolFailure: (r) => reject(new Error(`pool failure ${r}`)),
          onUpstreamHeaders: (s: number) => {
            status = s;
          },
          onUpstreamData: () => {},
          onUpstreamComplete: () => resolve(status),
          onUpstreamReset: (r) => reject(new Error(`reset ${r}`)),
          onUpstreamDrain: () => {},
          onUpstreamUpgraded: () => reject(new Error('upgrade')),
        };
        const req = pools.newStream(cluster, cluster.pick(null)!, 'DEFAULT', cb);
        if (req === null) throw new Error('overflow');
        if (req.connected) cb.onPoolReady(req);
      });
    assert.equal(await post(false), 200);
    // Same turn: the upstream read the head and the whole body at once.
    assert.equal(reads[0]!.length, 1);
    assert.match(reads[0]![0]!, /^POST \/p HTTP\/1\.1\r\n[^]*\r\n\r\nb{1000}$/);
    assert.equal(await post(true), 200);
    // Later turn: the head went out alone at the end of its turn, the body 100 ms later.
    const later = reads[0]!.slice(1);
    assert.equal(later.length, 2);
    assert.match(later[0]!, /\r\n\r\n$/);
    assert.equal(later[1], 'b'.repeat(1000));
    pools.closeAll();
  });
});
