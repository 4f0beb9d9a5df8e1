import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatSpiffeId, parseSpiffeId, uriSans, workloadSpiffeId } from '../../../../src/tls/spiffe.js';

describe('SPIFFE IDs', () => {
  it('parses valid IDs and round-trips them', () => {
    for (const id of ['spiffe://cluster.local/ns/shop/sa/catalog', 'spiffe://example.org', 'spiffe://a-b.c_d/x.y/z-1']) {
      const r = parseSpiffeId(id);
      assert.ok(r.ok, id);
      if (r.ok) assert.equal(formatSpiffeId(r.value), id);
    }
    assert.equal(workloadSpiffeId('mesh.local', 'shop', 'catalog'), 'spiffe://mesh.local/ns/shop/sa/catalog');
  });

  it('rejects what the SPIFFE ID spec forbids', () => {
    for (const id of [
      'http://example.org/x', 'SPIFFE://example.org/x', 'spiffe://', 'spiffe:///x', 'spiffe://Example.org/x',
      'spiffe://example.org:443/x', 'spiffe://user@example.org/x', 'spiffe://example.org/', 'spiffe://example.org//x',
      'spiffe://example.org/a/../b', 'spiffe://example.org/./b', 'spiffe://example.org/x?y=1', 'spiffe://example.org/x#f',
      'spiffe://example.org/%41', `spiffe://example.org/${'a'.repeat(2048)}`,
    ]) {
      assert.equal(parseSpiffeId(id).ok, false, id);
    }
  });

  it('reads URI SANs from node subjectAltName strings, quoted or not', () => {
    assert.deepEqual(uriSans('URI:spiffe://td/ns/a/sa/b'), ['spiffe://td/ns/a/sa/b']);
    assert.deepEqual(uriSans('DNS:x.example, URI:spiffe://td/x, IP Address:127.0.0.1'), ['spiffe://td/x']);
    assert.deepEqual(uriSans('URI:"spiffe://td/a,b"'), ['spiffe://td/a,b']);
    assert.deepEqual(uriSans(undefined), []);
  });
});
