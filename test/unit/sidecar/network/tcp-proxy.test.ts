import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import type { NetworkFilterChain } from '../../../../sidecar/contracts.js';
import { createTcpProxy } from '../../../../sidecar/network/tcp-proxy.js';
import type { TcpProxyConfig } from '../../../../src/xds/resources/types.js';
import {
  closeServer,
  collect,
  deadPort,
  echoServer,
  listen,
  staticCluster,
  tcpProxyConfig,
  testContext,
  waitFor,
} from './test-context.js';

const servers: net.Server[] = [];
after(async () => {
  for (const s of servers) if (s.listening) await closeServer(s);
});

async function serve(server: net.Server): Promise<number> {
  servers.push(server);
  return listen(server);
}

/** A front server handing each connection to the proxy chain; returns its port. */
async function front(chain: NetworkFilterChain): Promise<number> {
  return serve(net.createServer({ allowHalfOpen: true }, (s) => chain.onConnection(s)));
}

async function setup(clusterPorts: number[], over: Partial<TcpProxyConfig> = {}, connectTimeoutMs = 1000) {
  const ctx = testContext();
  ctx.clusters.applyClusters(new Map([['up', staticCluster('up', clusterPorts, connectTimeoutMs)]]), []);
  const port = await front(createTcpProxy(tcpProxyConfig(over), ctx));
  return { ctx, port, stat: (n: string) => ctx.stats.snapshot()[n] };
}

describe('tcp_proxy', { timeout: 20_000 }, () => {
  it('proxies both ways and forwards the client FIN', async () => {
    const up = await serve(echoServer());
    const { ctx, port, stat } = await setup([up]);
    const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const result = collect(client);
    client.end('hello proxy');
    const r = await result;
    assert.equal(r.data.toString(), 'HELLO PROXY');
    assert.equal(r.ended, true);
    assert.equal(r.hadError, false);
    assert.equal(stat('tcp.tp.downstream_cx_total'), 1);
    assert.equal(stat('tcp.tp.downstream_cx_rx_bytes_total'), 11);
    assert.equal(stat('tcp.tp.downstream_cx_tx_bytes_total'), 11);
    assert.equal(stat('cluster.up.upstream_cx_total'), 1);
    const ep = ctx.clusters.get('up')!.endpoints()[0]!;
    await waitFor(() => ep.cxActive === 0 && stat('cluster.up.upstream_cx_active') === 0);
  });

  it('keeps the other direction open after an upstream half-close', async () => {
    let upstreamGot!: Promise<{ data: Buffer; ended: boolean; hadError: boolean }>;
    const up = await serve(
      net.createServer({ allowHalfOpen: true }, (s) => {
        upstreamGot = collect(s);
        s.end('greeting');
      }),
    );
    const { port } = await setup([up]);
    const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const chunks: Buffer[] = [];
    client.on('data', (d: Buffer) => chunks.push(d));
    await new Promise<void>((r) => client.once('end', () => r()));
    assert.equal(Buffer.concat(chunks).toString(), 'greeting');
    // The client can still send after the upstream's FIN reached it.
    const closed = new Promise<boolean>((r) => client.once('close', r));
    client.end('bye');
    const got = await upstreamGot;
    assert.equal(got.data.toString(), 'bye');
    assert.equal(got.ended, true);
    assert.equal(await closed, false);
  });

  it('closes downstream when the connect is refused and counts the failure', async () => {
    const dead = await deadPort();
    const { port, stat } = await setup([dead]);
    const client = net.connect({ port, host: '127.0.0.1' });
    const r = await collect(client);
    assert.equal(r.data.length, 0);
    assert.equal(stat('cluster.up.upstream_cx_connect_fail'), 1);
    assert.equal(stat('cluster.up.upstream_cx_active'), 0);
  });

  it('tries the next endpoint up to max_connect_attempts', async () => {
    const dead = await deadPort();
    const up = await serve(echoServer());
    const { port, stat } = await setup([dead, up], { maxConnectAttempts: 2 });
    const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const result = collect(client);
    client.end('retry');
    assert.equal((await result).data.toString(), 'RETRY');
    assert.equal(stat('cluster.up.upstream_cx_connect_fail'), 1);
    assert.equal(stat('cluster.up.upstream_cx_total'), 2);
  });

  it('closes downstream when the cluster is unknown or has no healthy endpoint', async () => {
    const ctx = testContext();
    ctx.clusters.applyClusters(new Map([['empty', staticCluster('empty', [])]]), []);
    const p1 = await front(createTcpProxy(tcpProxyConfig({ cluster: 'missing' }), ctx));
    const p2 = await front(createTcpProxy(tcpProxyConfig({ cluster: 'empty', statPrefix: 'e' }), ctx));
    await collect(net.connect({ port: p1, host: '127.0.0.1' }));
    await collect(net.connect({ port: p2, host: '127.0.0.1' }));
    const s = ctx.stats.snapshot();
    assert.equal(s['tcp.tp.downstream_cx_no_route'], 1);
    assert.equal(s['cluster.empty.upstream_cx_none_healthy'], 1);
  });

  it('draws weighted clusters with the injected random', async () => {
    const a = await serve(net.createServer((s) => s.end('from-a')));
    const b = await serve(net.createServer((s) => s.end('from-b')));
    const ctx = testContext();
    ctx.clusters.applyClusters(new Map([['a', staticCluster('a', [a])], ['b', staticCluster('b', [b])]]), []);
    let next = 0;
    const cfg = tcpProxyConfig({ cluster: null, weightedClusters: [{ name: 'a', weight: 1 }, { name: 'b', weight: 3 }] });
    const port = await front(createTcpProxy(cfg, ctx, () => next));
    const get = async (r: number) => {
      next = r;
      return (await collect(net.connect({ port, host: '127.0.0.1' }))).data.toString();
    };
    assert.equal(await get(0.2), 'from-a');
    assert.equal(await get(0.3), 'from-b');
  });

  it('streams 16 MiB each way through a slow reader with backpressure', async () => {
    const size = 16 * 1024 * 1024;
    const payload = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4) payload.writeUInt32LE((i * 2654435761) >>> 0, i);
    const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    let upstreamGot!: Promise<{ data: Buffer }>;
    const up = await serve(
      net.createServer({ allowHalfOpen: true }, (s) => {
        // Read nothing for 200 ms so the proxy must stop reading downstream.
        s.pause();
        upstreamGot = collect(s);
        s.pause();
        setTimeout(() => s.resume(), 200);
        s.end(payload);
      }),
    );
    const { port, stat } = await setup([up]);
    const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    client.pause();
    const downGot = collect(client);
    client.pause();
    setTimeout(() => client.resume(), 200);
    client.end(payload);
    const [d, u] = await Promise.all([downGot, (async () => {
      await waitFor(() => upstreamGot !== undefined);
      return upstreamGot;
    })()]);
    assert.equal(d.data.length, size);
    assert.equal(digest(d.data), digest(payload));
    assert.equal(u.data.length, size);
    assert.equal(digest(u.data), digest(payload));
    assert.ok(stat('tcp.tp.downstream_flow_control_paused_reading_total')! > 0);
    assert.equal(stat('tcp.tp.downstream_flow_control_paused_reading_total'), stat('tcp.tp.downstream_flow_control_resumed_reading_total'));
  });

  it('never reuses the upstream read buffer while a downstream write still holds it', async () => {
    // Thousands of distinct upstream chunks against a downstream that stalls repeatedly: every read lands in
    // the same per-connection buffer, so a queued downstream write that still referenced it would corrupt bytes.
    const chunks: Buffer[] = [];
    let seed = 7;
    for (let i = 0; i < 3000; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const c = Buffer.alloc(1 + (seed % 9000));
      for (let j = 0; j < c.length; j++) c[j] = (i + j * 31) & 0xff;
      chunks.push(c);
    }
    const payload = Buffer.concat(chunks);
    const up = await serve(
      net.createServer({ allowHalfOpen: true }, (s) => {
        let i = 0;
        const pump = (): void => {
          while (i < chunks.length) if (!s.write(chunks[i++]!)) return void s.once('drain', pump);
          s.end();
        };
        pump();
      }),
    );
    const { port } = await setup([up]);
    const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const got: Buffer[] = [];
    let stalls = 0;
    client.on('data', (d: Buffer) => {
      got.push(d);
      if (stalls < 20 && got.length % 5 === 0) {
        stalls++;
        client.pause();
        setTimeout(() => client.resume(), 20);
      }
    });
    await new Promise<void>((r) => client.once('end', () => r()));
    client.end();
    const data = Buffer.concat(got);
    assert.equal(data.length, payload.length);
    assert.ok(data.equals(payload), 'bytes differ');
  });

  it('traffic in either direction defers the idle timeout', async () => {
    const up = await serve(echoServer());
    const { port, stat } = await setup([up], { idleTimeoutMs: 200 });
    const client = net.connect({ port, host: '127.0.0.1' });
    const r = collect(client);
    for (let i = 0; i < 8; i++) {
      client.write('x');
      await new Promise((res) => setTimeout(res, 60));
    }
    assert.equal(client.destroyed, false, 'closed while traffic was flowing');
    assert.equal(stat('tcp.tp.idle_timeout') ?? 0, 0);
    const res = await r;
    assert.equal(res.data.toString(), 'x'.repeat(8).toUpperCase(), 'the upstream answers each byte upper-cased');
    assert.equal(stat('tcp.tp.idle_timeout'), 1);
  });

  it('propagates an upstream reset to downstream', async () => {
    const up = await serve(net.createServer((s) => s.once('data', () => s.resetAndDestroy())));
    const { port } = await setup([up]);
    const client = net.connect({ port, host: '127.0.0.1' });
    const r = collect(client);
    client.write('x');
    assert.equal((await r).hadError, true);
  });

  it('propagates a downstream reset to upstream', async () => {
    let upstream!: Promise<{ hadError: boolean }>;
    const up = await serve(
      net.createServer((s) => {
        upstream = collect(s);
      }),
    );
    const { port } = await setup([up]);
    const client = net.connect({ port, host: '127.0.0.1' });
    client.on('error', () => {});
    client.write('x');
    await waitFor(() => upstream !== undefined);
    client.resetAndDestroy();
    assert.equal((await upstream).hadError, true);
  });

  it('closes both sides after the idle timeout', async () => {
    let upstream!: Promise<{ hadError: boolean }>;
    const up = await serve(
      net.createServer((s) => {
        upstream = collect(s);
      }),
    );
    const { port, stat, ctx } = await setup([up], { idleTimeoutMs: 100 });
    const started = Date.now();
    const r = await collect(net.connect({ port, host: '127.0.0.1' }));
    assert.ok(Date.now() - started >= 90, 'closed before the idle timeout');
    assert.equal(r.data.length, 0);
    await waitFor(() => upstream !== undefined);
    await upstream;
    assert.equal(stat('tcp.tp.idle_timeout'), 1);
    await waitFor(() => ctx.clusters.get('up')!.endpoints()[0]!.cxActive === 0);
  });

  it('close() from the listener tears down both sockets', async () => {
    let upstream!: Promise<{ hadError: boolean }>;
    const up = await serve(
      net.createServer((s) => {
        upstream = collect(s);
      }),
    );
    const ctx = testContext();
    ctx.clusters.applyClusters(new Map([['up', staticCluster('up', [up])]]), []);
    const chain = createTcpProxy(tcpProxyConfig(), ctx);
    let handler: ReturnType<NetworkFilterChain['onConnection']> | null = null;
    const port = await front({ onConnection: (s) => (handler = chain.onConnection(s)) });
    const client = net.connect({ port, host: '127.0.0.1' });
    const r = collect(client);
    await waitFor(() => upstream !== undefined);
    handler!.drain();
    handler!.close();
    await r;
    await upstream;
    assert.equal(ctx.stats.snapshot()['cluster.up.upstream_cx_active'], 0);
  });
});
