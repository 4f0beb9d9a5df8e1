import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createHttpConnectionManager } from '../../sidecar/http/conn-manager.js';
import { exchange, startProxy, startRecordingUpstream, type ProxyHandle, type RecordingUpstream } from '../helpers/http-raw.js';
import { forward, hcmConfig, prefixRoute, routeConfig, testContext, vhost, type TestContext } from '../helpers/http-fakes.js';

// Every malformed or ambiguous request is answered locally with 4xx/5xx + Connection: close, and never reaches the upstream.
const cases: [string, string, number][] = [
  ['CL+TE', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG', 400],
  ['TE+CL', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\nG', 400],
  ['TE obfuscated list', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked ,x\r\n\r\n0\r\n\r\n', 400],
  ['TE xchunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n', 400],
  ['TE identity', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\nContent-Length: 1\r\n\r\nx', 400],
  ['TE leading VT', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n', 400],
  ['TE duplicate', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
  ['TE gzip, chunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n', 501],
  ['TE space before colon', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n', 400],
  ['CL duplicate', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx', 400],
  ['CL differing', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy', 400],
  ['CL signed', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\nx', 400],
  ['CL non-digit', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1a\r\n\r\nx', 400],
  ['CL overflow', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 184467440737095516160\r\n\r\nx', 400],
  ['chunk size invalid', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nq\r\nabc\r\n0\r\n\r\n', 400],
  ['chunk ext invalid', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;=x\r\nabc\r\n0\r\n\r\n', 400],
  ['chunk missing CRLF', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n', 400],
  ['bare LF', 'GET / HTTP/1.1\nHost: a\n\n', 400],
  ['bare CR', 'GET / HTTP/1.1\rHost: a\r\n\r\n', 400],
  ['obs-fold', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n', 400],
  ['NUL in value', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n', 400],
  ['whitespace before colon', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n', 400],
  ['invalid name token', 'GET / HTTP/1.1\r\nHost: a\r\nX@A: b\r\n\r\n', 400],
  ['invalid method token', 'G@T / HTTP/1.1\r\nHost: a\r\n\r\n', 400],
  ['extra spaces in request line', 'GET  /  HTTP/1.1\r\nHost: a\r\n\r\n', 400],
  ['missing version', 'GET /\r\nHost: a\r\n\r\n', 400],
  ['HTTP/0.9 style', 'GET /\r\n\r\n', 400],
  ['HTTP/2.0 version', 'GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505],
  ['HTTP/1.2 version', 'GET / HTTP/1.2\r\nHost: a\r\n\r\n', 505],
  ['absent Host', 'GET / HTTP/1.1\r\nX: y\r\n\r\n', 400],
  ['multiple Host', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
  ['target too long', `GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: a\r\n\r\n`, 414],
  ['headers too large', `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'b'.repeat(3000)}\r\n\r\n`, 431],
  ['too many headers', `GET / HTTP/1.1\r\nHost: a\r\n${'X-N: 1\r\n'.repeat(12)}\r\n`, 431],
];

const CODE_BY_STATUS: Record<number, string> = {
  400: 'TESSERA_ERR_HTTP_BAD_REQUEST',
  414: 'TESSERA_ERR_HTTP_URI_TOO_LONG',
  431: 'TESSERA_ERR_HTTP_HEADERS_TOO_LARGE',
  501: 'TESSERA_ERR_HTTP_NOT_IMPLEMENTED',
  505: 'TESSERA_ERR_HTTP_VERSION',
};

describe('HTTP/1.1 request smuggling and malformed input', () => {
  let t: TestContext;
  let up: RecordingUpstream;
  let proxy: ProxyHandle;

  before(async () => {
    t = testContext();
    up = await startRecordingUpstream('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    t.clusters.add('backend', [up.port]);
    const rc = routeConfig([vhost(['*'], [prefixRoute('/', forward('backend'))])]);
    // 2 KiB header limit and 10 headers so the 431 cases stay small.
    const cfg = hcmConfig({ routeConfig: rc, maxRequestHeadersKb: 2, maxHeadersCount: 10 });
    proxy = await startProxy(createHttpConnectionManager(cfg, t.ctx));
  });

  after(async () => {
    await proxy.close();
    await up.close();
  });

  for (const [name, payload, status] of cases) {
    it(`${name} → ${status} + close, nothing forwarded`, async () => {
      const before = up.received().length;
      const r = await exchange(proxy.port, payload);
      assert.match(r.text, new RegExp(`^HTTP/1\\.1 ${status} `), r.text);
      assert.match(r.text, /\r\nconnection: close\r\n/i);
      assert.equal(r.closed, true, 'proxy must close the connection');
      assert.equal(up.received().length, before, `upstream saw: ${up.received().subarray(before).toString('latin1')}`);
      assert.equal(t.accessLines.at(-1)?.err_code, CODE_BY_STATUS[status], 'the access log names the error code');
    });
  }

  it('a valid request still works on the same listener (sanity) and rejects were counted', async () => {
    const r = await exchange(proxy.port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    assert.match(r.text, /^HTTP\/1\.1 200 /);
    assert.match(up.received().toString('latin1'), /^GET \/ HTTP\/1\.1\r\n/);
    assert.equal(t.stats.snapshot()['http.ingress.downstream_rq_rejected'], cases.length);
  });

  it('smuggled second request after a rejected one is never parsed', async () => {
    const before = up.received().length;
    const r = await exchange(
      proxy.port,
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n',
    );
    assert.equal((r.text.match(/HTTP\/1\.1 /g) ?? []).length, 1);
    assert.equal(up.received().length, before);
  });
});
