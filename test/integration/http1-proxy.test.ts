import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import type { HcmConfig } from '../../src/xds/resources/types.js';
import { createHttpConnectionManager } from '../../sidecar/http/conn-manager.js';
import {
  RawClient, parseResponses, sleep, startHttpUpstream, startProxy, startRecordingUpstream, type Listening, type ProxyHandle,
} from '../helpers/http-raw.js';
import { forward, hcmConfig, prefixRoute, routeConfig, testContext, vhost, type TestContext } from '../helpers/http-fakes.js';

const toClose: Listening[] = [];
after(async () => {
  for (const l of toClose.reverse()) await l.close();
});

async function proxyTo(port: number, over: Partial<HcmConfig> = {}, opts: { bufferLimitBytes?: number } = {}): Promise<{ t: TestContext; proxy: ProxyHandle }> {
  const t = testContext();
  t.clusters.add('backend', [port]);
  const rc = routeConfig([vhost(['*'], [prefixRoute('/', forward('backend'))])]);
  const proxy = await startProxy(createHttpConnectionManager(hcmConfig({ routeConfig: rc, ...over }), t.ctx, opts));
  toClose.push(proxy);
  return { t, proxy };
}

describe('HTTP/1.1 proxying', () => {
  it('reuses connections on both sides (keep-alive)', async () => {
    const up = await startHttpUpstream((req, res) => res.end(`hello ${req.url}`));
    toClose.push(up);
    const { t, proxy } = await proxyTo(up.port);
    const c = await RawClient.open(proxy.port);
    for (let i = 0; i < 5; i++) {
      c.write(`GET /r${i} HTTP/1.1\r\nHost: a\r\n\r\n`);
      const rs = await c.responses(i + 1);
      assert.equal(rs[i]!.status, 200);
      assert.equal(rs[i]!.body.toString(), `hello /r${i}`);
    }
    assert.equal(c.closed, false);
    assert.equal(up.connections(), 1, 'one upstream connection for five requests');
    assert.equal(proxy.handlers.length, 1);
    const s = t.stats.snapshot();
    assert.equal(s['http.ingress.downstream_rq_total'], 5);
    assert.equal(s['http.ingress.downstream_rq_2xx'], 5);
    assert.equal(s['cluster.backend.upstream_cx_total'], 1);
    assert.equal(s['cluster.backend.upstream_rq_total'], 5);
    assert.equal(s['cluster.backend.upstream_rq_active'], 0);
    assert.equal(t.accessLines.length, 5);
    const line = t.accessLines[0]!;
    assert.equal(line.method, 'GET');
    assert.equal(line.path, '/r0');
    assert.equal(line.status, 200);
    assert.equal(line.upstream_host, `127.0.0.1:${up.port}`);
    assert.equal(line.bytes_sent, 'hello /r0'.length);
    assert.equal(line.response_flags, '-');
    assert.equal(typeof line.duration_ms, 'number');
    assert.equal(typeof line.upstream_service_time_ms, 'number');
    c.close();
  });

  it('keeps serving a keep-alive connection after a response that filled the downstream socket buffer', async () => {
    // Regression: the upstream connection was paused for backpressure, the response completed in the same read,
    // and the paused connection went back to the pool — the next request on it never got its response read.
    const big = Buffer.alloc(20 * 1024, 'x');
    const up = await startHttpUpstream((req, res) => {
      if (req.url === '/small') res.end('small');
      else res.end(big);
    });
    toClose.push(up);
    const { proxy } = await proxyTo(up.port);
    const c = await RawClient.open(proxy.port);
    const paths = ['/big', '/big', '/small', '/big', '/small'];
    for (let i = 0; i < paths.length; i++) {
      // A client that reads late keeps the proxy's writes returning false until the response is complete.
      c.socket.pause();
      c.write(`GET ${paths[i]} HTTP/1.1\r\nHost: a\r\n\r\n`);
      await sleep(30);
      c.socket.resume();
      const rs = await c.responses(i + 1);
      assert.equal(rs[i]!.status, 200);
      assert.equal(rs[i]!.body.length, paths[i] === '/small' ? 5 : big.length);
    }
    assert.equal(up.connections(), 1, 'the upstream connection was reused throughout');
    c.close();
  });

  it('a client that half-closes after a complete request gets the response, then the connection closes', async () => {
    const up = await startHttpUpstream((_req, res) => setTimeout(() => res.end('late answer'), 100));
    toClose.push(up);
    const { proxy } = await proxyTo(up.port);
    const c = await RawClient.open(proxy.port);
    c.write('GET /x HTTP/1.1\r\nHost: a\r\n\r\n');
    c.socket.end();
    await c.waitFor((x) => x.closed, 3000);
    const [r] = parseResponses(c.data);
    assert.equal(r!.status, 200);
    assert.equal(r!.body.toString(), 'late answer');
    assert.equal(r!.headers.connection, 'close');
  });

  it('answers pipelined requests in order even when the first is slowest', async () => {
    const up = await startHttpUpstream((req, res) => {
      const delay = req.url === '/slow' ? 150 : 0;
      setTimeout(() => res.end(req.url), delay);
    });
    toClose.push(up);
    const { proxy } = await proxyTo(up.port);
    const c = await RawClient.open(proxy.port);
    c.write('GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /fast HTTP/1.1\r\nHost: a\r\n\r\nHEAD /head HTTP/1.1\r\nHost: a\r\n\r\nGET /last HTTP/1.1\r\nHost: a\r\n\r\n');
    await c.waitFor((x) => (x.text.match(/HTTP\/1\.1 200/g) ?? []).length >= 4 && x.text.endsWith('/last'));
    const heads = [...c.text.matchAll(/HTTP\/1\.1 200 OK\r\n/g)].length;
    assert.equal(heads, 4);
    const bodies = c.text.split(/HTTP\/1\.1 200 OK\r\n/).slice(1).map((r) => r.slice(r.indexOf('\r\n\r\n') + 4));
    assert.deepEqual(bodies, ['/slow', '/fast', '', '/last']);
    c.close();
  });

  it('streams a large content-length upload and a chunked upload without buffering', async () => {
    const up = await startHttpUpstream((req, res) => {
      const h = createHash('sha256');
      let n = 0;
      req.on('data', (b: Buffer) => {
        n += b.length;
        h.update(b);
      });
      req.on('end', () => res.end(`${n}:${h.digest('hex')}:${req.headers['transfer-encoding'] ?? 'cl'}`));
    });
    toClose.push(up);
    const { proxy } = await proxyTo(up.port);
    const body = Buffer.alloc(8 * 1024 * 1024, 7);
    const digest = createHash('sha256').update(body).digest('hex');
    const c = await RawClient.open(proxy.port);
    c.write(`POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\n\r\n`);
    c.write(body);
    let rs = await c.responses(1, 0, 10_000);
    assert.equal(rs[0]!.body.toString(), `${body.length}:${digest}:cl`);
    c.write('POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n');
    for (let off = 0; off < body.length; off += 100_000) {
      const part = body.subarray(off, Math.min(off + 100_000, body.length));
      c.write(`${part.length.toString(16)}\r\n`);
      c.write(part);
      c.write('\r\n');
    }
    c.write('0\r\n\r\n');
    rs = await c.responses(2, 0, 10_000);
    assert.equal(rs[1]!.body.toString(), `${body.length}:${digest}:chunked`);
    c.close();
  });

  it('propagates backpressure from a slow client to the upstream (memory bounded)', async () => {
    const total = 64 * 1024 * 1024;
    const progress = { written: 0 };
    const up = await startHttpUpstream((_req, res) => {
      res.writeHead(200, { 'content-length': String(total) });
      const chunk = Buffer.alloc(64 * 1024, 1);
      const pump = (): void => {
        while (progress.written < total) {
          progress.written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    toClose.push(up);
    const { proxy } = await proxyTo(up.port);
    const s: Socket = connect(proxy.port, '127.0.0.1');
    await new Promise<void>((r) => s.once('connect', () => r()));
    s.pause();
    s.write('GET /big HTTP/1.1\r\nHost: a\r\n\r\n');
    await sleep(600);
    // Kernel socket buffers on two hops plus our per-connection limits hold a few MiB at most, never the whole 64 MiB.
    assert.ok(progress.written < 24 * 1024 * 1024, `upstream pushed ${progress.written} bytes into a paused client`);
    let got = 0;
    const done = new Promise<void>((resolve) => {
      s.on('data', (b: Buffer) => {
        got += b.length;
        if (got >= total) resolve();
      });
    });
    s.resume();
    let guard: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((r) => (guard = setTimeout(r, 20_000)))]);
    clearTimeout(guard);
    assert.ok(got >= total, `received ${got}`);
    s.destroy();
  });

  it('handles Expect: 100-continue (sends 100 once the upstream is ready, strips Expect)', async () => {
    const seen: Record<string, unknown>[] = [];
    const up = await startHttpUpstream((req, res) => {
      seen.push({ ...req.headers });
      let b = '';
      req.on('data', (d: Buffer) => (b += d.toString()));
      req.on('end', () => res.end(`got ${b}`));
    });
    toClose.push(up);
    const { proxy } = await proxyTo(up.port);
    const c = await RawClient.open(proxy.port);
    c.write('POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
    await c.waitFor((x) => x.text.startsWith('HTTP/1.1 100 Continue\r\n\r\n'));
    c.write('hello');
    await c.waitFor((x) => x.text.endsWith('got hello'));
    assert.equal(seen[0]!.expect, undefined);
    c.close();
  });

  it('tunnels a WebSocket upgrade only after a real 101', async () => {
    const sockets = new Set<Socket>();
    const up = createServer((s) => {
      sockets.add(s);
      let head = '';
      let upgraded = false;
      s.on('data', (b: Buffer) => {
        if (upgraded) {
          s.write(Buffer.concat([Buffer.from('echo:'), b]));
          return;
        }
        head += b.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        if (/^GET \/no-ws/.test(head)) {
          s.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nplain');
          head = '';
          return;
        }
        assert.match(head, /\r\nupgrade: websocket\r\n/i);
        assert.match(head, /\r\nconnection: upgrade\r\n/i);
        upgraded = true;
        s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\nhello-from-up');
      });
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', () => r()));
    toClose.push({ port: 0, close: () => new Promise((r) => { for (const s of sockets) s.destroy(); up.close(() => r()); }) });
    const { proxy } = await proxyTo((up.address() as { port: number }).port);
    const c = await RawClient.open(proxy.port);
    const wsReq = 'GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\n\r\n';
    c.write('GET /no-ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    await c.waitFor((x) => x.text.endsWith('plain'));
    c.write(wsReq);
    await c.waitFor((x) => x.text.includes('hello-from-up'));
    assert.match(c.text, /HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(c.text, /\r\nupgrade: websocket\r\n/i);
    c.write('ping-bytes');
    await c.waitFor((x) => x.text.endsWith('echo:ping-bytes'));
    c.close();
  });

  it('strips hop-by-hop headers both ways', async () => {
    const up = await startRecordingUpstream(
      'HTTP/1.1 200 OK\r\nConnection: x-up-secret\r\nX-Up-Secret: 1\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nX-Kept: yes\r\ncontent-length: 2\r\n\r\nok',
    );
    toClose.push(up);
    const { proxy } = await proxyTo(up.port);
    const c = await RawClient.open(proxy.port);
    c.write('GET /h HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Secret\r\nX-Secret: s\r\nKeep-Alive: timeout=1\r\nProxy-Connection: keep-alive\r\nTE: gzip\r\nUpgrade: h2c\r\nX-Kept: k\r\n\r\n');
    const [r] = await c.responses(1);
    const sent = up.received().toString('latin1').toLowerCase();
    for (const h of ['connection:', 'x-secret:', 'keep-alive:', 'proxy-connection:', 'te:', 'upgrade:']) {
      assert.ok(!sent.includes(`\r\n${h}`), `upstream saw ${h}\n${sent}`);
    }
    assert.ok(sent.includes('\r\nx-kept: k\r\n'));
    assert.equal(r!.headers['x-up-secret'], undefined);
    assert.equal(r!.headers['keep-alive'], undefined);
    assert.equal(r!.headers['proxy-connection'], undefined);
    assert.equal(r!.headers.connection, undefined);
    assert.equal(r!.headers['x-kept'], 'yes');
    c.close();
  });

  it('sets x-forwarded-for/proto, x-request-id and via', async () => {
    const up = await startRecordingUpstream('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    toClose.push(up);
    const { proxy, t } = await proxyTo(up.port, { useRemoteAddress: true, xffNumTrustedHops: 1, via: '1.1 tessera' });
    const c = await RawClient.open(proxy.port);
    c.write('GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 9.9.9.9, 1.2.3.4\r\nX-Request-Id: external\r\n\r\n');
    const [r] = await c.responses(1);
    const sent = up.received().toString('latin1');
    assert.match(sent, /\r\nx-forwarded-for: 9\.9\.9\.9, 1\.2\.3\.4, 127\.0\.0\.1\r\n/);
    assert.match(sent, /\r\nx-forwarded-proto: http\r\n/);
    // Edge (use_remote_address) without preserve_external_request_id: the external id is replaced by a UUID v4.
    assert.match(sent, /\r\nx-request-id: [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\r\n/);
    assert.match(sent, /\r\nvia: 1\.1 tessera\r\n/);
    assert.equal(r!.headers.via, '1.1 tessera');
    assert.equal(t.accessLines[0]!.downstream_remote_address, '1.2.3.4');
    assert.match(String(t.accessLines[0]!.request_id), /^[0-9a-f-]{36}$/);
    c.close();

    const up2 = await startRecordingUpstream('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    toClose.push(up2);
    const p2 = await proxyTo(up2.port, { useRemoteAddress: false });
    const c2 = await RawClient.open(p2.proxy.port);
    c2.write('GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 9.9.9.9\r\nX-Request-Id: keep-me\r\n\r\n');
    await c2.responses(1);
    const sent2 = up2.received().toString('latin1');
    assert.match(sent2, /\r\nx-forwarded-for: 9\.9\.9\.9\r\n/);
    assert.match(sent2, /\r\nx-request-id: keep-me\r\n/);
    c2.close();
  });

  it('HTTP/1.0: keep-alive only when asked; 426 when not accepted', async () => {
    const up = await startHttpUpstream((_req, res) => res.end('x'));
    toClose.push(up);
    const { proxy } = await proxyTo(up.port);
    const c = await RawClient.open(proxy.port);
    c.write('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    const [r] = await c.responses(1);
    assert.equal(r!.headers.connection, 'keep-alive');
    c.write('GET / HTTP/1.0\r\n\r\n');
    await c.waitFor((x) => x.closed);
    assert.equal(parseResponses(c.data)[1]!.headers.connection, 'close');

    const p2 = await proxyTo(up.port, { acceptHttp10: false });
    const c2 = await RawClient.open(p2.proxy.port);
    c2.write('GET / HTTP/1.0\r\n\r\n');
    await c2.waitFor((x) => x.closed);
    assert.match(c2.text, /^HTTP\/1\.1 426 /);
    assert.equal(p2.t.accessLines.at(-1)?.err_code, 'TESSERA_ERR_HTTP_UPGRADE_REQUIRED');
  });

  it('drain: in-flight request finishes with Connection: close, then the connection closes', async () => {
    const up = await startHttpUpstream((_req, res) => setTimeout(() => res.end('late'), 150));
    toClose.push(up);
    const { proxy } = await proxyTo(up.port);
    const c = await RawClient.open(proxy.port);
    c.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await sleep(50);
    proxy.handlers[0]!.drain();
    await c.waitFor((x) => x.closed);
    const [r] = parseResponses(c.data);
    assert.equal(r!.status, 200);
    assert.equal(r!.body.toString(), 'late');
    assert.equal(r!.headers.connection, 'close');

    const idle = await RawClient.open(proxy.port);
    await sleep(20);
    proxy.handlers[1]!.drain();
    await idle.waitFor((x) => x.closed);
    assert.equal(idle.data.length, 0);
  });

  it('408 when request headers do not arrive in time; idle connections close silently', async () => {
    const up = await startHttpUpstream((_req, res) => res.end('x'));
    toClose.push(up);
    const { proxy } = await proxyTo(up.port, { requestHeadersTimeoutMs: 150, idleTimeoutMs: 300 });
    const slow = await RawClient.open(proxy.port);
    slow.write('GET / HTTP/1.1\r\nHost: a\r\n');
    await slow.waitFor((x) => x.closed, 3000);
    assert.match(slow.text, /^HTTP\/1\.1 408 /);
    const idle = await RawClient.open(proxy.port);
    await idle.waitFor((x) => x.closed, 3000);
    assert.equal(idle.data.length, 0);
  });
});
