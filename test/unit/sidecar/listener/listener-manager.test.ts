import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import type { ConnectionHandler, NetworkFilterChainFactory } from '../../../../sidecar/contracts.js';
import { ListenerManager } from '../../../../sidecar/listener/listener-manager.js';
import { tcpProxyFactory } from '../../../../sidecar/network/tcp-proxy.js';
import type { FilterChainConfig, ListenerConfig } from '../../../../src/xds/resources/types.js';
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
} from '../network/test-context.js';

/**
 * Test network filter: greets with its stat prefix ("tag"), answers drain() by ending the socket
 * (unless the tag starts with "stubborn"), and records drain/close calls.
 */
function taggingFactory() {
  const calls: string[] = [];
  const factory: NetworkFilterChainFactory = (config) => {
    const tag = config.statPrefix;
    if (tag === 'boom') throw new Error('boom');
    return {
      onConnection(socket): ConnectionHandler {
        socket.write(`${tag}\n`);
        socket.on('error', () => {});
        // Listener sockets are allowHalfOpen: a network filter owns the reaction to the peer's FIN.
        socket.on('end', () => socket.end());
        return {
          drain() {
            calls.push(`drain:${tag}`);
            if (!tag.startsWith('stubborn')) socket.end('drain\n');
          },
          close() {
            calls.push(`close:${tag}`);
            socket.destroy();
          },
        };
      },
    };
  };
  return { calls, factory };
}

function chain(tag: string, destinationPort: number | null = null): FilterChainConfig {
  return { name: tag, match: { destinationPort, serverNames: [], transportProtocol: '', applicationProtocols: [] }, network: tcpProxyConfig({ statPrefix: tag }), networkRbac: [], tls: null, handshakeTimeoutMs: 0 };
}

function listener(name: string, port: number | null, chains: FilterChainConfig[], dflt: FilterChainConfig | null = null): ListenerConfig {
  return {
    name,
    address: port === null ? null : { address: '127.0.0.1', port },
    filterChains: chains,
    defaultFilterChain: dflt,
    tlsInspector: false,
    listenerFiltersTimeoutMs: 15_000,
    continueOnListenerFiltersTimeout: false,
    perConnectionBufferLimitBytes: 1 << 20,
    raw: {},
  };
}

const managers: ListenerManager[] = [];
const servers: net.Server[] = [];
after(async () => {
  for (const m of managers) m.close();
  for (const s of servers) if (s.listening) await closeServer(s);
});

function manager(drainTimeoutMs = 5000) {
  const ctx = testContext();
  const { calls, factory } = taggingFactory();
  const m = new ListenerManager({ factories: { tcp_proxy: factory, http_connection_manager: factory }, ctx, logger: ctx.logger, stats: ctx.stats, drainTimeoutMs });
  managers.push(m);
  return { m, ctx, calls };
}

/** Connects and resolves with the socket once its first line arrived (the chain's tag). */
function connectTagged(port: number): Promise<{ sock: net.Socket; tag: string; rest: Promise<{ data: Buffer; hadError: boolean }> }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl === -1) return;
      sock.off('data', onData);
      sock.pause();
      const tag = buf.slice(0, nl);
      const leftover = Buffer.from(buf.slice(nl + 1));
      const rest = collect(sock).then((r) => ({ data: Buffer.concat([leftover, r.data]), hadError: r.hadError }));
      sock.resume();
      resolve({ sock, tag, rest });
    };
    sock.on('data', onData);
    sock.once('error', reject);
    sock.once('close', () => reject(new Error(`closed before a tag (got '${buf}')`)));
  });
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

describe('ListenerManager', { timeout: 20_000 }, () => {
  it('binds, matches chains by destination port, falls back to the default chain', async () => {
    const { m, ctx } = manager();
    const [p1, p2, p3] = [await deadPort(), await deadPort(), await deadPort()];
    const errors = await m.apply(
      new Map([
        ['by-port', listener('by-port', p1, [chain('other', 1), chain('exact', p1), chain('any')])],
        ['any', listener('any', p2, [chain('other', 1), chain('any')], chain('default'))],
        ['dflt', listener('dflt', p3, [chain('other', 1)], chain('default'))],
      ]),
      [],
    );
    assert.deepEqual(errors, []);
    const c1 = await connectTagged(p1);
    const c2 = await connectTagged(p2);
    const c3 = await connectTagged(p3);
    assert.deepEqual([c1.tag, c2.tag, c3.tag], ['exact', 'any', 'default']);
    for (const c of [c1, c2, c3]) c.sock.destroy();
    const scope = `listener.127.0.0.1_${p1}`;
    await waitFor(() => ctx.stats.snapshot()[`${scope}.downstream_cx_active`] === 0);
    const s = ctx.stats.snapshot();
    assert.equal(s[`${scope}.downstream_cx_total`], 1);
    assert.equal(s[`${scope}.downstream_cx_destroy`], 1);
    assert.deepEqual(
      m.listeners().map((l) => [l.name, l.boundPort, l.filterChains.length, l.defaultFilterChain?.name ?? null]),
      [['any', p2, 2, 'default'], ['by-port', p1, 3, null], ['dflt', p3, 1, 'default']],
    );
  });

  it('closes connections that match no filter chain and counts them', async () => {
    const { m, ctx } = manager();
    const errors = await m.apply(new Map([['none', listener('none', 0, [chain('other', 1)])]]), []);
    assert.deepEqual(errors, []);
    const port = m.boundPort('none')!;
    assert.ok(port > 0);
    const r = await collect(net.connect({ port, host: '127.0.0.1' }));
    assert.equal(r.data.length, 0);
    assert.equal(ctx.stats.snapshot()[`listener.127.0.0.1_${port}.no_filter_chain_match`], 1);
  });

  it('accepts api_listeners without binding them', async () => {
    const { m } = manager();
    assert.deepEqual(await m.apply(new Map([['api', listener('api', null, [chain('a')])]]), []), []);
    assert.deepEqual(m.listeners().map((l) => [l.name, l.address, l.boundPort]), [['api', null, null]]);
  });

  it('swaps filter chains on the same address and drains connections on the old ones', async () => {
    const { m, calls } = manager();
    await m.apply(new Map([['l', listener('l', 0, [chain('v1')])]]), []);
    const port = m.boundPort('l')!;
    const old = await connectTagged(port);
    assert.equal(old.tag, 'v1');
    // Re-applying an identical config keeps the chain and does not drain.
    await m.apply(new Map([['l', listener('l', 0, [chain('v1')])]]), []);
    assert.equal(m.boundPort('l'), port);
    assert.deepEqual(calls, []);
    await m.apply(new Map([['l', listener('l', 0, [chain('v2')])]]), []);
    assert.equal(m.boundPort('l'), port);
    const fresh = await connectTagged(port);
    assert.equal(fresh.tag, 'v2');
    assert.equal((await old.rest).data.toString(), 'drain\n');
    assert.deepEqual(calls, ['drain:v1']);
    await waitFor(() => m.listeners()[0]!.activeConnections === 1);
    fresh.sock.destroy();
  });

  it('force-closes connections that outlive the drain timeout', async () => {
    const { m, calls } = manager(100);
    await m.apply(new Map([['l', listener('l', 0, [chain('stubborn-v1')])]]), []);
    const port = m.boundPort('l')!;
    const old = await connectTagged(port);
    const started = Date.now();
    await m.apply(new Map([['l', listener('l', 0, [chain('v2')])]]), []);
    const r = await old.rest;
    assert.ok(Date.now() - started >= 90, 'closed before the drain timeout');
    assert.equal(r.data.length, 0);
    assert.deepEqual(calls, ['drain:stubborn-v1', 'close:stubborn-v1']);
  });

  it('binds a changed address first, then stops and drains the old one', async () => {
    const { m } = manager();
    await m.apply(new Map([['l', listener('l', 0, [chain('v1')])]]), []);
    const oldPort = m.boundPort('l')!;
    const old = await connectTagged(oldPort);
    const newPort = await deadPort();
    assert.deepEqual(await m.apply(new Map([['l', listener('l', newPort, [chain('v2')])]]), []), []);
    assert.equal(m.boundPort('l'), newPort);
    assert.equal((await connectTagged(newPort)).tag, 'v2');
    assert.equal(await refused(oldPort), true);
    assert.equal((await old.rest).data.toString(), 'drain\n');
  });

  it('reports EADDRINUSE, keeps the old version, and applies the other listeners', async () => {
    const { m } = manager();
    const blocker = net.createServer();
    servers.push(blocker);
    const busy = await listen(blocker);
    await m.apply(new Map([['moving', listener('moving', 0, [chain('v1')])]]), []);
    const movingPort = m.boundPort('moving')!;
    const errors = await m.apply(
      new Map([
        ['busy', listener('busy', busy, [chain('x')])],
        ['moving', listener('moving', busy, [chain('v2')])],
        ['ok', listener('ok', 0, [chain('ok')])],
        ['bad', listener('bad', 0, [chain('boom')])],
      ]),
      [],
    );
    assert.deepEqual(errors, [
      `listener "busy": bind 127.0.0.1:${busy}: EADDRINUSE`,
      `listener "moving": bind 127.0.0.1:${busy}: EADDRINUSE`,
      `listener "bad": filter_chains[0]: boom`,
    ]);
    assert.deepEqual(m.listeners().map((l) => l.name), ['moving', 'ok']);
    assert.equal((await connectTagged(movingPort)).tag, 'v1');
    assert.equal((await connectTagged(m.boundPort('ok')!)).tag, 'ok');
  });

  it('removal stops accepting and drains existing connections', async () => {
    const { m } = manager();
    await m.apply(new Map([['l', listener('l', 0, [chain('v1')])]]), []);
    const port = m.boundPort('l')!;
    const c = await connectTagged(port);
    await m.apply(new Map(), ['l', 'never-existed']);
    assert.deepEqual(m.listeners(), []);
    assert.equal(await refused(port), true);
    assert.equal((await c.rest).data.toString(), 'drain\n');
  });

  it('drainAll drains every connection and force-closes the stubborn ones after the timeout', async () => {
    const { m, calls } = manager();
    await m.apply(new Map([['a', listener('a', 0, [chain('polite')])], ['b', listener('b', 0, [chain('stubborn-b')])]]), []);
    const pa = m.boundPort('a')!;
    const pb = m.boundPort('b')!;
    const ca = await connectTagged(pa);
    const cb = await connectTagged(pb);
    const started = Date.now();
    await m.drainAll(150);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 140 && elapsed < 2000, `drainAll took ${elapsed} ms`);
    assert.equal((await ca.rest).data.toString(), 'drain\n');
    await cb.rest;
    assert.deepEqual(calls.sort(), ['close:stubborn-b', 'drain:polite', 'drain:stubborn-b']);
    assert.equal(await refused(pa), true);
    assert.equal(await refused(pb), true);
    const late = await m.apply(new Map([['c', listener('c', 0, [chain('c')])]]), []);
    assert.equal(late.length, 1);
  });

  it('drainAll resolves at once when nothing is connected', async () => {
    const { m } = manager();
    await m.apply(new Map([['a', listener('a', 0, [chain('a')])]]), []);
    const started = Date.now();
    await m.drainAll(5000);
    assert.ok(Date.now() - started < 1000);
  });

  it('runs the real tcp_proxy behind a bound listener', async () => {
    const ctx = testContext();
    const echo = echoServer();
    servers.push(echo);
    ctx.clusters.applyClusters(new Map([['up', staticCluster('up', [await listen(echo)])]]), []);
    const m = new ListenerManager({ factories: { tcp_proxy: tcpProxyFactory, http_connection_manager: tcpProxyFactory }, ctx, logger: ctx.logger, stats: ctx.stats });
    managers.push(m);
    await m.apply(new Map([['tcp', listener('tcp', 0, [chain('tcp')])]]), []);
    const client = net.connect({ port: m.boundPort('tcp')!, host: '127.0.0.1', allowHalfOpen: true });
    const r = collect(client);
    client.end('through the listener');
    assert.equal((await r).data.toString(), 'THROUGH THE LISTENER');
    assert.equal(ctx.stats.snapshot()['tcp.tcp.downstream_cx_total'], 1);
  });

  it("passes the listener's per_connection_buffer_limit_bytes to the network filter factory; a new limit rebuilds the chains", async () => {
    const ctx = testContext();
    const seen: (number | undefined)[] = [];
    const factory: NetworkFilterChainFactory = (config, c, opts) => {
      seen.push(opts?.bufferLimitBytes);
      return tcpProxyFactory(config, c, opts);
    };
    const m = new ListenerManager({ factories: { tcp_proxy: factory, http_connection_manager: factory }, ctx, logger: ctx.logger, stats: ctx.stats });
    managers.push(m);
    const withLimit = (n: number): ListenerConfig => ({ ...listener('l', 0, [chain('a')]), perConnectionBufferLimitBytes: n });
    assert.deepEqual(await m.apply(new Map([['l', withLimit(4096)]]), []), []);
    assert.deepEqual(seen, [4096]);
    await m.apply(new Map([['l', withLimit(4096)]]), []);
    assert.deepEqual(seen, [4096], 'an identical update keeps the built chain');
    await m.apply(new Map([['l', withLimit(65536)]]), []);
    assert.deepEqual(seen, [4096, 65536]);
  });
});
