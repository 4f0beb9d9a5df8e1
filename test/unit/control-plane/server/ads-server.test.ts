import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { unpackAny } from '../../../../src/xds/protos.js';
import type { DiscoveryResponse } from '../../../../src/xds/ads-service.js';
import { CDS, EDS, LDS, RDS, setOk, startServer, tick } from './fixtures.js';

type Env = Awaited<ReturnType<typeof startServer>>;

function names(res: DiscoveryResponse): string[] {
  return res.resources.map((a) => String(unpackAny(a).name ?? unpackAny(a).cluster_name)).sort();
}

describe('XdsServer state of the world', () => {
  let env: Env;
  before(async () => {
    env = await startServer();
  });
  after(async () => {
    await env.stop();
  });

  it('answers an initial wildcard CDS request with every cluster, then records the ACK', async () => {
    setOk(env.cache, 'n-wild', { ports: { a: 1, b: 2 } });
    const s = env.client.sotw('n-wild');
    s.request(CDS);
    const res = await s.next();
    assert.equal(res.type_url, CDS);
    assert.deepEqual(names(res), ['a', 'b']);
    assert.equal(res.version_info, env.cache.get('n-wild')!.version(CDS));
    assert.notEqual(res.nonce, '');
    const acksBefore = env.stats.snapshot('xds.')['xds.ack_total'] ?? 0;
    s.ack(res);
    await s.expectNone();
    assert.equal(env.stats.snapshot('xds.')['xds.ack_total'], acksBefore + 1);
    const st = env.server.status().find((p) => p.nodeId === 'n-wild')!;
    assert.equal(st.mode, 'sotw');
    assert.deepEqual(st.types.map((t) => [t.typeUrl, t.wildcard, t.lastAckedVersion, t.lastSentNonce]), [
      [CDS, true, res.version_info, res.nonce],
    ]);
    s.end();
    await s.done;
  });

  it('does not resend a NACKed version, and sends again once that type changes', async () => {
    setOk(env.cache, 'n-nack', { ports: { a: 1 } });
    const s = env.client.sotw('n-nack');
    s.request(CDS);
    const first = await s.next();
    s.ack(first);
    await tick(); // let the ACK land before the next push, or it would carry a stale nonce
    setOk(env.cache, 'n-nack', { ports: { a: 1 }, timeout: 5 });
    const bad = await s.next();
    assert.notEqual(bad.version_info, first.version_info);
    s.nack(bad, 'clusters[0]: connect_timeout too long', [], first.version_info);
    await s.expectNone();
    assert.equal(env.stats.snapshot('xds.')['xds.nack_total'], 1);
    const rec = env.server.nacks().at(-1)!;
    assert.deepEqual([rec.nodeId, rec.typeUrl, rec.version, rec.reason], ['n-nack', CDS, bad.version_info, 'clusters[0]: connect_timeout too long']);
    const st = env.server.status().find((p) => p.nodeId === 'n-nack')!.types[0]!;
    assert.equal(st.nacked, true);
    assert.equal(st.lastAckedVersion, first.version_info);
    assert.match(st.lastError!, /connect_timeout/);
    // Another type changes: CDS stays held.
    setOk(env.cache, 'n-nack', { ports: { a: 2 }, timeout: 5 });
    await s.expectNone();
    // The client re-requests with the same names (e.g. after its own retry): still held.
    s.request(CDS, [], { version: first.version_info, nonce: bad.nonce });
    await s.expectNone();
    setOk(env.cache, 'n-nack', { ports: { a: 2 }, timeout: 3 });
    const fixed = await s.next();
    assert.equal(fixed.type_url, CDS);
    assert.notEqual(fixed.version_info, bad.version_info);
    s.ack(fixed);
    await tick();
    assert.equal(env.server.status().find((p) => p.nodeId === 'n-nack')!.types[0]!.nacked, false);
    s.end();
    await s.done;
  });

  it('does not resend NACKed content on a subscription change that leaves it the same', async () => {
    setOk(env.cache, 'n-hold', { ports: { a: 1, b: 2 } });
    const s = env.client.sotw('n-hold');
    s.request(EDS, ['a']);
    const r1 = await s.next();
    s.nack(r1, 'bad endpoint', ['a']);
    await s.expectNone();
    // Adding a name that does not exist forces a response, whose content would be exactly the NACKed one.
    s.request(EDS, ['a', 'zz'], { nonce: r1.nonce });
    await s.expectNone();
    // Adding a name that exists changes the content: sent.
    s.request(EDS, ['a', 'b', 'zz'], { nonce: r1.nonce });
    const r2 = await s.next();
    assert.deepEqual(names(r2), ['a', 'b']);
    s.ack(r2, ['a', 'b', 'zz']);
    await tick();
    // Back to the NACKed content through a subscription change: still held while the snapshot is unchanged.
    s.request(EDS, ['a'], { version: r2.version_info, nonce: r2.nonce });
    await s.expectNone();
    // Once the type's version changes the hold is gone, and the unanswered subscription is served.
    setOk(env.cache, 'n-hold', { ports: { a: 1, b: 3 } });
    const r3 = await s.next();
    assert.deepEqual(names(r3), ['a']);
    s.end();
    await s.done;
  });

  it('serves named subscriptions with only existing names, and [] after names unsubscribes', async () => {
    setOk(env.cache, 'n-named', { ports: { a: 1, b: 2, c: 3 } });
    const s = env.client.sotw('n-named');
    s.request(EDS, ['a', 'missing']);
    const r1 = await s.next();
    assert.deepEqual(names(r1), ['a']);
    s.ack(r1, ['a', 'missing']);
    await s.expectNone();
    s.request(EDS, ['a', 'b'], { version: r1.version_info, nonce: r1.nonce });
    const r2 = await s.next();
    assert.deepEqual(names(r2), ['a', 'b']);
    s.ack(r2, ['a', 'b']);
    // A change to an unsubscribed resource pushes nothing.
    setOk(env.cache, 'n-named', { ports: { a: 1, b: 2, c: 4 } });
    await s.expectNone();
    // Unsubscribe everything (what grpc-js-xds sends when its channel closes): not a wildcard.
    s.request(EDS, [], { version: r2.version_info, nonce: r2.nonce });
    await s.expectNone();
    setOk(env.cache, 'n-named', { ports: { a: 9, b: 9, c: 9 } });
    await s.expectNone();
    const st = env.server.status().find((p) => p.nodeId === 'n-named')!.types[0]!;
    assert.deepEqual([st.wildcard, st.names], [false, []]);
    s.end();
    await s.done;
  });

  it('pushes only the types that changed, in CDS, EDS, LDS, RDS order', async () => {
    setOk(env.cache, 'n-order', { ports: { a: 1 } });
    const s = env.client.sotw('n-order');
    // Subscribe in the reverse of push order.
    s.request(RDS, ['a']);
    s.request(LDS);
    s.request(EDS, ['a']);
    s.request(CDS);
    const initial = new Map<string, DiscoveryResponse>();
    for (let i = 0; i < 4; i++) {
      const r = await s.next();
      initial.set(r.type_url, r);
    }
    s.ack(initial.get(RDS)!, ['a']);
    s.ack(initial.get(LDS)!);
    s.ack(initial.get(EDS)!, ['a']);
    s.ack(initial.get(CDS)!);
    await s.expectNone();

    setOk(env.cache, 'n-order', { ports: { a: 2 } });
    const eds = await s.next();
    assert.equal(eds.type_url, EDS);
    s.ack(eds, ['a']);
    await s.expectNone();

    setOk(env.cache, 'n-order', { ports: { a: 3 }, timeout: 2, domain: 'x', listenerTag: '-2' });
    const order: string[] = [];
    for (let i = 0; i < 4; i++) order.push((await s.next()).type_url);
    assert.deepEqual(order, [CDS, EDS, LDS, RDS]);
    await s.expectNone();
    s.end();
    await s.done;
  });

  it('ignores a request with a stale nonce (no ACK/NACK, no subscription change)', async () => {
    setOk(env.cache, 'n-stale', { ports: { a: 1, b: 2 } });
    const s = env.client.sotw('n-stale');
    s.request(EDS, ['a']);
    const r1 = await s.next();
    setOk(env.cache, 'n-stale', { ports: { a: 5, b: 2 } });
    const r2 = await s.next();
    assert.notEqual(r1.nonce, r2.nonce);
    const nacks = env.stats.snapshot('xds.')['xds.nack_total'] ?? 0;
    const stale = env.stats.snapshot('xds.')['xds.stale_nonce_total'] ?? 0;
    s.nack(r1, 'late complaint about r1', ['a']);
    s.request(EDS, ['a', 'b'], { version: r1.version_info, nonce: r1.nonce });
    await s.expectNone();
    assert.equal(env.stats.snapshot('xds.')['xds.nack_total'] ?? 0, nacks);
    assert.equal(env.stats.snapshot('xds.')['xds.stale_nonce_total'], stale + 2);
    const st = env.server.status().find((p) => p.nodeId === 'n-stale')!.types[0]!;
    assert.deepEqual([st.names, st.nacked, st.lastAckedVersion], [['a'], false, null]);
    s.ack(r2, ['a']);
    await tick();
    assert.equal(env.server.status().find((p) => p.nodeId === 'n-stale')!.types[0]!.lastAckedVersion, r2.version_info);
    s.end();
    await s.done;
  });

  it('waits for a snapshot, and serves the fallback to nodes without their own', async () => {
    const s = env.client.sotw('proxyless-1');
    s.request(LDS, ['a']);
    await s.expectNone();
    assert.deepEqual(env.cache.setFallback((await import('./fixtures.js')).world({ ports: { a: 7 } })), []);
    const r = await s.next();
    assert.equal(r.type_url, LDS);
    assert.deepEqual(names(r), ['a']);
    s.end();
    await s.done;
  });
});

describe('XdsServer lifecycle', () => {
  it('counts connected streams and ends them with status OK on close()', async () => {
    const env = await startServer();
    setOk(env.cache, 'n1', { ports: { a: 1 } });
    const s1 = env.client.sotw('n1');
    const s2 = env.client.delta('n1');
    s1.request(CDS);
    s2.request(CDS);
    await s1.next();
    await s2.next();
    assert.equal(env.stats.snapshot('xds.')['xds.connected_proxies'], 2);
    assert.deepEqual(env.server.status().map((p) => p.mode).sort(), ['delta', 'sotw']);
    await env.server.close();
    const [d1, d2] = await Promise.all([s1.done, s2.done]);
    assert.equal((d1 as { code: number }).code, 0);
    assert.equal((d2 as { code: number }).code, 0);
    assert.equal(env.stats.snapshot('xds.')['xds.connected_proxies'], 0);
    assert.deepEqual(env.server.status(), []);
    env.client.close();
  });

  it('drops a stream the client cancels', async () => {
    const env = await startServer();
    setOk(env.cache, 'n1', { ports: { a: 1 } });
    const s = env.client.sotw('n1');
    s.request(CDS);
    await s.next();
    s.cancel();
    await s.done;
    for (let i = 0; i < 50 && env.server.status().length > 0; i++) await tick();
    assert.equal(env.server.status().length, 0);
    assert.equal(env.stats.snapshot('xds.')['xds.connected_proxies'], 0);
    await env.stop();
  });
});
