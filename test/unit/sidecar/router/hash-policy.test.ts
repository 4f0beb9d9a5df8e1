import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HeaderMap } from '../../../../sidecar/http/header-map.js';
import { computeRequestHash, cookieValue, queryParameter } from '../../../../sidecar/router/hash-policy.js';
import { uint64ToHex, xxhash64 } from '../../../../src/core/xxhash64.js';
import type { HashPolicyConfig } from '../../../../src/xds/resources/types.js';

const rotl1 = (h: bigint) => ((h << 1n) | (h >> 63n)) & 0xffffffffffffffffn;

function req(headers: [string, string][] = [], path = '/', sourceIp = '10.1.2.3') {
  return { headers: HeaderMap.from(headers), path, sourceIp };
}

const header = (name: string, terminal = false): HashPolicyConfig => ({ kind: 'header', name, terminal });
const sourceIp = (terminal = false): HashPolicyConfig => ({ kind: 'source_ip', terminal });

describe('computeRequestHash', () => {
  it('hashes a header value; several values are sorted and concatenated (order-independent)', () => {
    assert.equal(computeRequestHash([header('x-user')], req([['x-user', 'alice']])).hash, xxhash64('alice'));
    const a = computeRequestHash([header('x-k')], req([['x-k', 'foo'], ['x-k', 'bar']])).hash;
    const b = computeRequestHash([header('x-k')], req([['x-k', 'bar'], ['x-k', 'foo']])).hash;
    assert.equal(a, xxhash64('barfoo'));
    assert.equal(a, b);
    assert.equal(computeRequestHash([header('x-none')], req()).hash, null);
    assert.equal(computeRequestHash([header(':authority')], req([['host', 'api.local']])).hash, xxhash64('api.local'));
  });

  it('combines policies as rotl(hash, 1) ^ next, and a terminal policy with a hash stops', () => {
    const r = req([['x-a', 'A'], ['x-b', 'B']]);
    const ha = xxhash64('A');
    const hb = xxhash64('B');
    assert.equal(computeRequestHash([header('x-a'), header('x-b')], r).hash, rotl1(ha) ^ hb);
    // duplicates do not cancel out
    assert.equal(computeRequestHash([header('x-a'), header('x-a')], r).hash, rotl1(ha) ^ ha);
    assert.equal(computeRequestHash([header('x-a', true), header('x-b')], r).hash, ha);
    // a terminal policy without a hash does not stop
    assert.equal(computeRequestHash([header('x-missing', true), header('x-b')], r).hash, hb);
    assert.equal(computeRequestHash([], r).hash, null);
  });

  it('hashes the source IP', () => {
    assert.equal(computeRequestHash([sourceIp()], req([], '/', '192.0.2.7')).hash, xxhash64('192.0.2.7'));
    assert.equal(computeRequestHash([sourceIp()], req([], '/', '')).hash, null);
  });

  it('hashes the first value of a query parameter, raw', () => {
    const p: HashPolicyConfig = { kind: 'query_parameter', name: 'user', terminal: false };
    assert.equal(computeRequestHash([p], req([], '/x?a=1&user=bob%20x&user=eve')).hash, xxhash64('bob%20x'));
    assert.equal(computeRequestHash([p], req([], '/x?user')).hash, xxhash64(''));
    assert.equal(computeRequestHash([p], req([], '/x?username=1')).hash, null);
    assert.equal(queryParameter('/p?a=1#user=2', 'user'), null);
    assert.equal(queryParameter('/p?a=&b=2', 'a'), '');
  });

  it('hashes a cookie value, quotes removed, across Cookie headers', () => {
    const p: HashPolicyConfig = { kind: 'cookie', name: 'sid', ttlMs: null, path: '', terminal: false };
    const r = req([['cookie', 'a=1; other=2'], ['cookie', 'x=y; sid="s-42"']]);
    assert.deepEqual(computeRequestHash([p], r), { hash: xxhash64('s-42'), setCookie: null });
    assert.equal(cookieValue(HeaderMap.from([['cookie', 'sidx=1; sid=7']]), 'sid'), '7');
    assert.equal(computeRequestHash([p], req([['cookie', 'sid=']])).hash, null);
  });

  it('generates a sticky cookie when absent and a ttl is set', () => {
    const p: HashPolicyConfig = { kind: 'cookie', name: 'route', ttlMs: 3_600_500, path: '/app', terminal: false };
    const r = computeRequestHash([p], req([], '/', '10.9.8.7'));
    const value = uint64ToHex(xxhash64('10.9.8.7'));
    assert.equal(r.setCookie, `route="${value}"; Max-Age=3600; Path=/app; HttpOnly`);
    assert.equal(r.hash, xxhash64(value));
    // the client sending it back lands on the same hash, without a new cookie
    const back = computeRequestHash([p], req([['cookie', `route="${value}"`]]));
    assert.deepEqual(back, { hash: r.hash, setCookie: null });
    const session = computeRequestHash([{ ...p, ttlMs: 0, path: '' }], req());
    assert.match(session.setCookie!, /^route="[0-9a-f]{16}"; HttpOnly$/);
  });
});
