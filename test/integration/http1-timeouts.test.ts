// stream_idle_timeout (HCM and per-route idle_timeout) and request_timeout on the HTTP/1.1 connection manager.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, describe, it } from 'node:test';
import type { ForwardActionConfig, HcmConfig } from '../../src/xds/resources/types.js';
import { createHttpConnectionManager } from '../../sidecar/http/conn-manager.js';
import { RawClient, sleep, startHttpUpstream, startProxy, type Listening, type ProxyHandle } from '../helpers/http-raw.js';
import { forward, hcmConfig, prefixRoute, routeConfig, testContext, vhost, type TestContext } from '../helpers/http-fakes.js';

const toClose: Listening[] = [];
const stalled: ServerResponse[] = [];
after(async () => {
  for (const r of stalled) r.destroy();
  for (const l of toClose.reverse()) await l.close();
});

async function proxyTo(
  port: number,
  over: Partial<HcmConfig>,
  action: Partial<ForwardActionConfig> = {},
): Promise<{ t: TestContext; proxy: ProxyHandle }> {
  const t = testContext();
  t.clusters.add('backend', [port]);
  const rc = routeConfig([vhost(['*'], [prefixRoute('/', forward('backend', { timeoutMs: 0, ...action }))])]);
  const proxy = await startProxy(createHttpConnectionManager(hcmConfig({ routeConfig: rc, ...over }), t.ctx));
  toClose.push(proxy);
  return { t, proxy };
}

/** An upstream that never answers (its responses are destroyed at the end). */
async function silentUpstream(): Promise<number> {
  const up = await startHttpUpstream((_req, res) => {
    stalled.push(res);
  });
  toClose.push(up);
  return up.port;
}

describe('stream_idle_timeout', () => {
  it('408 "stream timeout" (flag SI) when nothing moves before the response starts; the connection closes', async () => {
    const port = await silentUpstream();
    const { t, proxy } = await proxyTo(port, { streamIdleTimeoutMs: 200 });
    const c = await RawClient.open(proxy.port);
    const t0 = Date.now();
    c.write('GET /slow HTTP/1.1\r\nHost: a\r\n\r\n');
    await c.waitFor((x) => x.closed, 3000);
    const took = Date.now() - t0;
    assert.match(c.text, /^HTTP\/1\.1 408 /);
    assert.match(c.text, /connection: close\r\n/);
    assert.ok(c.text.endsWith('stream timeout'));
    assert.ok(took >= 190 && took < 1500, `fired after ${took} ms`);
    assert.equal(t.stats.snapshot()['http.ingress.downstream_rq_idle_timeout'], 1);
    await sleep(20);
    assert.equal(t.accessLines.at(-1)!.response_flags, 'SI');
    assert.equal(t.accessLines.at(-1)!.status, 408);
    assert.equal(t.accessLines.at(-1)!.err_code, 'TESSERA_ERR_HTTP_REQUEST_TIMEOUT');
  });

  it('activity in either direction keeps the stream alive', async () => {
    const up = await startHttpUpstream((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      let n = 0;
      const iv = setInterval(() => {
        res.write(`part${n} `);
        if (++n === 6) {
          clearInterval(iv);
          res.end('done');
        }
      }, 100);
      req.resume();
    });
    toClose.push(up);
    const { proxy } = await proxyTo(up.port, { streamIdleTimeoutMs: 300 });
    const c = await RawClient.open(proxy.port);
    c.write('GET /trickle HTTP/1.1\r\nHost: a\r\n\r\n');
    const [r] = await c.responses(1, 0, 3000);
    assert.equal(r!.status, 200);
    assert.equal(r!.body.toString(), 'part0 part1 part2 part3 part4 part5 done');
    assert.equal(c.closed, false);
    // Request body trickling in keeps it alive too (the upstream answers after reading it all).
    const up2 = await startHttpUpstream((req, res) => {
      req.resume();
      req.on('end', () => res.end('got it'));
    });
    toClose.push(up2);
    const { proxy: p2 } = await proxyTo(up2.port, { streamIdleTimeoutMs: 300 });
    const c2 = await RawClient.open(p2.port);
    c2.write('POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\n');
    for (const ch of 'abcdef') {
      await sleep(100);
      c2.write(ch);
    }
    const [r2] = await c2.responses(1, 0, 3000);
    assert.equal(r2!.status, 200);
    assert.equal(r2!.body.toString(), 'got it');
  });

  it('after the response started, an idle stream closes the connection', async () => {
    const up = await startHttpUpstream((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      stalled.push(res);
    });
    toClose.push(up);
    const { t, proxy } = await proxyTo(up.port, { streamIdleTimeoutMs: 200 });
    const c = await RawClient.open(proxy.port);
    c.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await c.waitFor((x) => x.closed, 3000);
    assert.match(c.text, /^HTTP\/1\.1 200 /);
    assert.ok(c.text.endsWith('partial'));
    await sleep(20);
    assert.equal(t.stats.snapshot()['http.ingress.downstream_rq_idle_timeout'], 1);
    assert.match(String(t.accessLines.at(-1)!.response_flags), /SI/);
  });

  it("the route's idle_timeout overrides the HCM's (a shorter one fires, 0 disables)", async () => {
    const port = await silentUpstream();
    const { proxy } = await proxyTo(port, { streamIdleTimeoutMs: 300_000 }, { idleTimeoutMs: 150 });
    const c = await RawClient.open(proxy.port);
    c.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await c.waitFor((x) => x.closed, 3000);
    assert.match(c.text, /^HTTP\/1\.1 408 /);

    const up = await startHttpUpstream((_req, res) => {
      setTimeout(() => res.end('late but fine'), 500);
    });
    toClose.push(up);
    const { proxy: p2 } = await proxyTo(up.port, { streamIdleTimeoutMs: 150 }, { idleTimeoutMs: 0 });
    const c2 = await RawClient.open(p2.port);
    c2.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    const [r] = await c2.responses(1, 0, 3000);
    assert.equal(r!.status, 200);
    assert.equal(r!.body.toString(), 'late but fine');
  });
});

describe('request_timeout', () => {
  it('408 "request timeout" when the whole request is not received in time', async () => {
    const port = await silentUpstream();
    const { t, proxy } = await proxyTo(port, { requestTimeoutMs: 200 });
    const c = await RawClient.open(proxy.port);
    c.write('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n01234');
    // Still sending (activity), but the request as a whole takes too long.
    const iv = setInterval(() => {
      if (!c.closed) c.write('');
    }, 50);
    await c.waitFor((x) => x.closed, 3000);
    clearInterval(iv);
    assert.match(c.text, /^HTTP\/1\.1 408 /);
    assert.ok(c.text.endsWith('request timeout'));
    assert.equal(t.stats.snapshot()['http.ingress.downstream_rq_timeout'], 1);
  });

  it('is disarmed once the request is complete (a slow response is not cut)', async () => {
    const up = await startHttpUpstream((req, res) => {
      req.resume();
      req.on('end', () => setTimeout(() => res.end('slow answer'), 400));
    });
    toClose.push(up);
    const { t, proxy } = await proxyTo(up.port, { requestTimeoutMs: 150 });
    const c = await RawClient.open(proxy.port);
    c.write('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc');
    c.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    const rs = await c.responses(2, 0, 4000);
    assert.equal(rs[0]!.status, 200);
    assert.equal(rs[1]!.body.toString(), 'slow answer');
    assert.equal(t.stats.snapshot()['http.ingress.downstream_rq_timeout'] ?? 0, 0);
  });
});
