import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DeltaDiscoveryResponse } from '../../../../src/xds/ads-service.js';
import { CDS, EDS, setOk, startServer, tick } from './fixtures.js';

type Env = Awaited<ReturnType<typeof startServer>>;

function sent(res: DeltaDiscoveryResponse): string[] {
  return res.resources.map((r) => r.name).sort();
}

describe('XdsServer delta', () => {
  let env: Env;
  before(async () => {
    env = await startServer();
  });
  after(async () => {
    await env.stop();
  });

  it('answers an initial wildcard request with every resource and its version', async () => {
    setOk(env.cache, 'd-wild', { ports: { a: 1, b: 2 } });
    const s = env.client.delta('d-wild');
    s.request(CDS);
    const res = await s.next();
    assert.equal(res.type_url, CDS);
    assert.deepEqual(sent(res), ['a', 'b']);
    const snap = env.cache.get('d-wild')!;
    assert.equal(res.system_version_info, snap.version(CDS));
    for (const r of res.resources) {
      assert.equal(r.version, snap.resources(CDS).get(r.name)!.version);
      assert.equal(r.resource.type_url, CDS);
    }
    assert.deepEqual(res.removed_resources, []);
    s.ack(res);
    await s.expectNone();
    const st = env.server.status().find((p) => p.nodeId === 'd-wild')!;
    assert.equal(st.mode, 'delta');
    assert.deepEqual([st.types[0]!.wildcard, st.types[0]!.lastAckedVersion], [true, res.system_version_info]);
    s.end();
    await s.done;
  });

  it('honours initial_resource_versions: sends only what differs, removes what is gone', async () => {
    setOk(env.cache, 'd-init', { ports: { a: 1, b: 2, c: 3 } });
    const snap = env.cache.get('d-init')!;
    const s = env.client.delta('d-init');
    s.request(CDS, {
      initial: { a: snap.resources(CDS).get('a')!.version, b: 'old', gone: 'whatever' },
    });
    const res = await s.next();
    assert.deepEqual(sent(res), ['b', 'c']);
    assert.deepEqual(res.removed_resources, ['gone']);
    s.end();
    await s.done;
  });

  it('sends an empty first response when the client already holds everything', async () => {
    setOk(env.cache, 'd-uptodate', { ports: { a: 1 } });
    const v = env.cache.get('d-uptodate')!.resources(CDS).get('a')!.version;
    const s = env.client.delta('d-uptodate');
    s.request(CDS, { initial: { a: v } });
    const res = await s.next();
    assert.deepEqual([res.resources.length, res.removed_resources.length], [0, 0]);
    s.end();
    await s.done;
  });

  it('after a change sends only changed resources and the removed names', async () => {
    setOk(env.cache, 'd-change', { ports: { a: 1, b: 2, c: 3 } });
    const s = env.client.delta('d-change');
    s.request(EDS);
    const r1 = await s.next();
    assert.deepEqual(sent(r1), ['a', 'b', 'c']);
    s.ack(r1);
    await tick();
    setOk(env.cache, 'd-change', { ports: { a: 1, b: 20 } });
    const r2 = await s.next();
    assert.deepEqual(sent(r2), ['b']);
    assert.deepEqual(r2.removed_resources, ['c']);
    s.ack(r2);
    await s.expectNone();
    s.end();
    await s.done;
  });

  it('subscribes and unsubscribes names; a missing name is reported removed once', async () => {
    setOk(env.cache, 'd-named', { ports: { a: 1, b: 2 } });
    const s = env.client.delta('d-named');
    s.request(EDS, { subscribe: ['a'] });
    const r1 = await s.next();
    assert.deepEqual([sent(r1), r1.removed_resources], [['a'], []]);
    s.ack(r1);
    s.request(EDS, { subscribe: ['b', 'nope'], nonce: r1.nonce });
    const r2 = await s.next();
    assert.deepEqual([sent(r2), r2.removed_resources], [['b'], ['nope']]);
    s.ack(r2);
    s.request(EDS, { unsubscribe: ['a'], nonce: r2.nonce });
    await s.expectNone();
    setOk(env.cache, 'd-named', { ports: { a: 5, b: 2 } });
    await s.expectNone();
    setOk(env.cache, 'd-named', { ports: { a: 5, b: 6, nope: 7 } });
    const r3 = await s.next();
    assert.deepEqual([sent(r3), r3.removed_resources], [['b', 'nope'], []]);
    // Re-subscribing a name the client dropped sends it again.
    s.ack(r3);
    s.request(EDS, { subscribe: ['a'], nonce: r3.nonce });
    const r4 = await s.next();
    assert.deepEqual(sent(r4), ['a']);
    const st = env.server.status().find((p) => p.nodeId === 'd-named')!.types[0]!;
    assert.deepEqual([st.wildcard, st.names], [false, ['a', 'b', 'nope']]);
    s.end();
    await s.done;
  });

  it('does not resend a NACKed resource version; sends it again once it changes', async () => {
    setOk(env.cache, 'd-nack', { ports: { a: 1, b: 2 } });
    const s = env.client.delta('d-nack');
    s.request(EDS);
    const r1 = await s.next();
    s.ack(r1);
    await tick();
    setOk(env.cache, 'd-nack', { ports: { a: 10, b: 2 } });
    const bad = await s.next();
    assert.deepEqual(sent(bad), ['a']);
    const before = env.stats.snapshot('xds.')['xds.nack_total'] ?? 0;
    s.nack(bad, 'endpoints[0]: port 10 is not allowed');
    await s.expectNone();
    assert.equal(env.stats.snapshot('xds.')['xds.nack_total'], before + 1);
    const rec = env.server.nacks().at(-1)!;
    assert.deepEqual([rec.nodeId, rec.typeUrl, rec.version], ['d-nack', EDS, bad.system_version_info]);
    assert.equal(env.server.status().find((p) => p.nodeId === 'd-nack')!.types[0]!.nacked, true);
    // Another resource of the type changes: only it is sent, the NACKed one is held.
    setOk(env.cache, 'd-nack', { ports: { a: 10, b: 3 } });
    const r3 = await s.next();
    assert.deepEqual(sent(r3), ['b']);
    s.ack(r3);
    await tick();
    setOk(env.cache, 'd-nack', { ports: { a: 11, b: 3 } });
    const r4 = await s.next();
    assert.deepEqual(sent(r4), ['a']);
    s.end();
    await s.done;
  });

  it('applies subscriptions from a request with a stale nonce, but not as an ACK', async () => {
    setOk(env.cache, 'd-stale', { ports: { a: 1, b: 2 } });
    const s = env.client.delta('d-stale');
    s.request(EDS, { subscribe: ['a'] });
    const r1 = await s.next();
    setOk(env.cache, 'd-stale', { ports: { a: 3, b: 2 } });
    const r2 = await s.next();
    const acks = env.stats.snapshot('xds.')['xds.ack_total'] ?? 0;
    s.request(EDS, { subscribe: ['b'], nonce: r1.nonce });
    const r3 = await s.next();
    assert.deepEqual(sent(r3), ['b']);
    assert.equal(env.stats.snapshot('xds.')['xds.ack_total'] ?? 0, acks);
    assert.notEqual(r2.nonce, r3.nonce);
    s.end();
    await s.done;
  });
});
