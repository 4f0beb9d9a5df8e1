import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import type { HcmConfig, RouteConfigData } from '../../../../src/xds/resources/types.js';
import { createHttpConnectionManager } from '../../../../sidecar/http/conn-manager.js';
import { HeaderMap } from '../../../../sidecar/http/header-map.js';
import { applyHeaderOption } from '../../../../sidecar/router/router-filter.js';
import {
  RawClient, sleep, startHttpUpstream, startProxy, startRecordingUpstream, type Listening, type ProxyHandle,
} from '../../../helpers/http-raw.js';
import {
  FakeRouteTable, forward, hcmConfig, prefixRoute, routeConfig, testContext, vhost, type TestContext,
} from '../../../helpers/http-fakes.js';

const toClose: Listening[] = [];
after(async () => {
  for (const l of toClose.reverse()) await l.close();
});

async function start(rc: RouteConfigData | null, setup: (t: TestContext) => void, over: Partial<HcmConfig> = {}): Promise<{ t: TestContext; proxy: ProxyHandle }> {
  const t = testContext();
  setup(t);
  const proxy = await startProxy(createHttpConnectionManager(hcmConfig({ routeConfig: rc, ...over }), t.ctx));
  toClose.push(proxy);
  return { t, proxy };
}

async function get(port: number, path: string, extra = ''): Promise<{ status: number; headers: Record<string, string>; body: string; raw: string }> {
  const c = await RawClient.open(port);
  c.write(`GET ${path} HTTP/1.1\r\nHost: example.com\r\n${extra}\r\n`);
  const [r] = await c.responses(1, 0, 5000);
  c.close();
  return { status: r!.status, headers: r!.headers, body: r!.body.toString(), raw: c.text };
}

const mut = (key: string, value: string, action: 'APPEND_IF_EXISTS_OR_ADD' | 'ADD_IF_ABSENT' | 'OVERWRITE_IF_EXISTS_OR_ADD' | 'OVERWRITE_IF_EXISTS' = 'APPEND_IF_EXISTS_OR_ADD') => ({ key, value, action });

describe('RouterFilter', () => {
  it('applies append_action semantics', () => {
    const h = new HeaderMap();
    h.add('a', '1');
    applyHeaderOption(h, mut('a', '2'));
    applyHeaderOption(h, mut('b', '1', 'ADD_IF_ABSENT'));
    applyHeaderOption(h, mut('b', '2', 'ADD_IF_ABSENT'));
    applyHeaderOption(h, mut('c', '1', 'OVERWRITE_IF_EXISTS'));
    applyHeaderOption(h, mut('a', '3', 'OVERWRITE_IF_EXISTS'));
    applyHeaderOption(h, mut('d', '1', 'OVERWRITE_IF_EXISTS_OR_ADD'));
    assert.deepEqual(h.toObject(), { a: '3', b: '1', d: '1' });
  });

  it('direct_response and redirect', async () => {
    const rc = routeConfig([
      vhost(['*'], [
        prefixRoute('/direct', { kind: 'direct_response', status: 418, body: 'teapot' }, {
          responseHeadersToAdd: [mut('x-route', 'direct')], responseHeadersToRemove: [], requestHeadersToAdd: [], requestHeadersToRemove: [],
        }),
        prefixRoute('/old', {
          kind: 'redirect', httpsRedirect: true, schemeRedirect: null, hostRedirect: null, portRedirect: null,
          pathRedirect: null, prefixRewrite: '/new', responseCode: 308, stripQuery: false,
        }),
        prefixRoute('/moved', {
          kind: 'redirect', httpsRedirect: false, schemeRedirect: null, hostRedirect: 'other.example', portRedirect: 8443,
          pathRedirect: '/landing', prefixRewrite: null, responseCode: 301, stripQuery: true,
        }),
      ]),
    ]);
    const { proxy } = await start(rc, () => {});
    const d = await get(proxy.port, '/direct');
    assert.equal(d.status, 418);
    assert.equal(d.body, 'teapot');
    assert.equal(d.headers['x-route'], 'direct');
    const r1 = await get(proxy.port, '/old/x?q=1');
    assert.equal(r1.status, 308);
    assert.equal(r1.headers.location, 'https://example.com/new/x?q=1');
    const r2 = await get(proxy.port, '/moved/a?q=1');
    assert.equal(r2.status, 301);
    assert.equal(r2.headers.location, 'http://other.example:8443/landing');
  });

  it('rewrites prefix, regex and host; header mutations in Envoy order', async () => {
    const up = await startRecordingUpstream('HTTP/1.1 200 OK\r\ncontent-length: 0\r\nx-up: 1\r\n\r\n');
    toClose.push(up);
    const rc = routeConfig(
      [
        vhost(
          ['*'],
          [
            prefixRoute('/api/', forward('backend', { prefixRewrite: '/v2/', hostRewriteLiteral: 'internal.svc' }), {
              requestHeadersToAdd: [mut('x-level', 'route'), mut('x-only-route', 'r', 'ADD_IF_ABSENT')],
              requestHeadersToRemove: ['x-drop'],
              responseHeadersToAdd: [mut('x-resp', 'route', 'OVERWRITE_IF_EXISTS_OR_ADD')],
              responseHeadersToRemove: ['x-up'],
            }),
            prefixRoute('/re/', forward('backend', { regexRewrite: { regex: '/re/(\\w+)/(\\w+)', substitution: '/\\2/\\1' } })),
          ],
          {
            requestHeadersToAdd: [mut('x-level', 'vhost', 'OVERWRITE_IF_EXISTS_OR_ADD')],
            requestHeadersToRemove: [],
            responseHeadersToAdd: [mut('x-resp', 'vhost')],
            responseHeadersToRemove: [],
          },
        ),
      ],
      { requestHeadersToAdd: [mut('x-global', 'g')], requestHeadersToRemove: [], responseHeadersToAdd: [], responseHeadersToRemove: [] },
    );
    const { proxy } = await start(rc, (t) => t.clusters.add('backend', [up.port]));
    const r = await get(proxy.port, '/api/items?x=1', 'X-Drop: 1\r\nX-Only-Route: client\r\n');
    assert.equal(r.status, 200);
    const sent = up.received().toString('latin1');
    assert.match(sent, /^GET \/v2\/items\?x=1 HTTP\/1\.1\r\n/);
    assert.match(sent, /\r\nhost: internal\.svc\r\n/);
    assert.ok(!/x-drop/i.test(sent));
    // route adds first, the virtual host overwrites after it (least specific wins by default).
    assert.match(sent, /\r\nx-level: vhost\r\n/);
    assert.match(sent, /\r\nx-only-route: client\r\n/);
    assert.match(sent, /\r\nx-global: g\r\n/);
    assert.equal(r.headers['x-up'], undefined);
    assert.equal(r.headers['x-resp'], 'route, vhost');
    await get(proxy.port, '/re/a/b?k');
    assert.match(up.received().toString('latin1'), /GET \/b\/a\?k HTTP\/1\.1\r\n/);
  });

  it('503 no healthy upstream, 503 cluster not found, 404 no route / no RDS table', async () => {
    const rc = routeConfig([vhost(['example.com'], [prefixRoute('/a', forward('sick')), prefixRoute('/b', forward('ghost'))])]);
    const { t, proxy } = await start(rc, (tc) => {
      const c = tc.clusters.add('sick', [1]);
      c.eps[0]!.healthy = false;
    });
    const a = await get(proxy.port, '/a');
    assert.equal(a.status, 503);
    assert.equal(a.body, 'no healthy upstream');
    assert.equal(t.stats.snapshot()['cluster.sick.upstream_cx_none_healthy'], 1);
    assert.equal(t.accessLines.at(-1)!.response_flags, 'UH');
    assert.equal(t.accessLines.at(-1)!.err_code, 'TESSERA_ERR_NO_HEALTHY_UPSTREAM');
    const b = await get(proxy.port, '/b');
    assert.equal(b.status, 503);
    assert.equal(b.body, 'cluster not found');
    assert.equal(t.accessLines.at(-1)!.err_code, 'TESSERA_ERR_CLUSTER_NOT_FOUND');
    const c = await get(proxy.port, '/zzz');
    assert.equal(c.status, 404);
    assert.equal(t.accessLines.at(-1)!.response_flags, 'NR');
    assert.equal(t.accessLines.at(-1)!.err_code, 'TESSERA_ERR_ROUTE_NOT_FOUND');

    const rds = await start(null, () => {}, { rdsRouteConfigName: 'routes-v1' });
    const d = await get(rds.proxy.port, '/');
    assert.equal(d.status, 404);
    assert.match(d.body, /routes-v1/);
    rds.t.routes.tables.set('routes-v1', new FakeRouteTable(routeConfig([vhost(['*'], [prefixRoute('/', { kind: 'direct_response', status: 200, body: 'v1' })])])));
    assert.equal((await get(rds.proxy.port, '/')).body, 'v1');
  });

  it('504 on route timeout, upstream connection closed', async () => {
    const up = await startRecordingUpstream(null);
    toClose.push(up);
    const rc = routeConfig([vhost(['*'], [prefixRoute('/', forward('backend', { timeoutMs: 200 }))])]);
    const { t, proxy } = await start(rc, (tc) => tc.clusters.add('backend', [up.port]));
    const started = Date.now();
    const r = await get(proxy.port, '/slow');
    assert.equal(r.status, 504);
    assert.equal(r.body, 'upstream request timeout');
    assert.ok(Date.now() - started >= 190);
    const s = t.stats.snapshot();
    assert.equal(s['cluster.backend.upstream_rq_timeout'], 1);
    assert.equal(s['cluster.backend.upstream_rq_active'], 0);
    assert.equal(t.clusters.clusters.get('backend')!.eps[0]!.activeRequests, 0);
    assert.equal(t.accessLines.at(-1)!.response_flags, 'UT');
    assert.equal(t.accessLines.at(-1)!.err_code, 'TESSERA_ERR_UPSTREAM_TIMEOUT');
  });

  it('503 on connect failure, 503 on reset before headers, 502 on a malformed response', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
    const deadPort = (dead.address() as { port: number }).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const sockets = new Set<Socket>();
    const bad = createServer((s) => {
      sockets.add(s);
      s.on('data', (b: Buffer) => {
        if (b.toString().startsWith('GET /reset')) s.destroy();
        else s.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx');
      });
    });
    await new Promise<void>((r) => bad.listen(0, '127.0.0.1', () => r()));
    toClose.push({ port: 0, close: () => new Promise((r) => { for (const s of sockets) s.destroy(); bad.close(() => r()); }) });
    const rc = routeConfig([vhost(['*'], [prefixRoute('/dead', forward('dead')), prefixRoute('/', forward('bad'))])]);
    const { t, proxy } = await start(rc, (tc) => {
      tc.clusters.add('dead', [deadPort]);
      tc.clusters.add('bad', [(bad.address() as { port: number }).port]);
    });
    const a = await get(proxy.port, '/dead');
    assert.equal(a.status, 503);
    assert.match(a.body, /connection failure/);
    assert.equal(t.accessLines.at(-1)!.response_flags, 'UF');
    assert.equal(t.accessLines.at(-1)!.err_code, 'TESSERA_ERR_UPSTREAM_CONNECT');
    assert.equal(t.stats.snapshot()['cluster.dead.upstream_cx_connect_fail'], 1);
    const b = await get(proxy.port, '/reset');
    assert.equal(b.status, 503);
    assert.equal(t.accessLines.at(-1)!.response_flags, 'UC');
    assert.equal(t.accessLines.at(-1)!.err_code, 'TESSERA_ERR_UPSTREAM_RESET');
    const c = await get(proxy.port, '/malformed');
    assert.equal(c.status, 502);
    assert.equal(t.accessLines.at(-1)!.response_flags, 'UPE');
    assert.equal(t.accessLines.at(-1)!.err_code, 'TESSERA_ERR_UPSTREAM_PROTOCOL');
    const ep = t.clusters.clusters.get('bad')!.eps[0]!;
    assert.equal(ep.rqTotal, 2);
    assert.equal(ep.rqError, 2);
    assert.equal(ep.activeRequests, 0);
  });

  it('an endpoint removed mid-request still completes; its idle pooled connection is then closed', async () => {
    const up = await startHttpUpstream((_req, res) => setTimeout(() => res.end('done'), 100));
    toClose.push(up);
    const rc = routeConfig([vhost(['*'], [prefixRoute('/', forward('backend'))])]);
    const { t, proxy } = await start(rc, (tc) => tc.clusters.add('backend', [up.port]));
    const c = await RawClient.open(proxy.port);
    c.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await sleep(30);
    const ep = t.clusters.clusters.get('backend')!.eps[0]!;
    assert.equal(ep.activeRequests, 1);
    t.clusters.remove(ep);
    const [r] = await c.responses(1);
    assert.equal(r!.body.toString(), 'done');
    assert.equal(ep.activeRequests, 0);
    await sleep(50);
    assert.equal(t.stats.snapshot()['cluster.backend.upstream_cx_active'], 0, 'connection to a removed endpoint is not pooled');
    c.close();
  });
});
