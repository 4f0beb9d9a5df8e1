// Router resilience in process (real HCM, real HTTP/1.1 pool, loopback upstreams): retries with body replay,
// retry limits, circuit-breaker overflow, gRPC-shaped local replies.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { ForwardActionConfig, RetryPolicyConfig } from '../../../../src/xds/resources/types.js';
import { createHttpConnectionManager } from '../../../../sidecar/http/conn-manager.js';
import { RawClient, sleep, startHttpUpstream, startProxy, type Listening } from '../../../helpers/http-raw.js';
import { forward, hcmConfig, prefixRoute, routeConfig, testContext, vhost, type TestContext } from '../../../helpers/http-fakes.js';

const toClose: Listening[] = [];
after(async () => {
  for (const l of toClose.reverse()) await l.close();
});

function retry(over: Partial<RetryPolicyConfig> = {}): RetryPolicyConfig {
  return {
    retryOn: ['5xx'],
    numRetries: 2,
    perTryTimeoutMs: 0,
    perTryIdleTimeoutMs: 0,
    retriableStatusCodes: [],
    backoffBaseMs: 1,
    backoffMaxMs: 5,
    previousHostsPredicate: false,
    hostSelectionRetryMaxAttempts: 1,
    ...over,
  };
}

async function proxy(ports: number[], action: Partial<ForwardActionConfig>, clusterOver: Parameters<TestContext['clusters']['add']>[2] = {}) {
  const t = testContext();
  t.clusters.add('backend', ports, clusterOver);
  const rc = routeConfig([vhost(['*'], [prefixRoute('/', forward('backend', action))])]);
  const p = await startProxy(createHttpConnectionManager(hcmConfig({ routeConfig: rc }), t.ctx));
  toClose.push(p);
  return { t, port: p.port };
}

async function send(port: number, head: string, body = ''): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const c = await RawClient.open(port);
  c.write(head + body);
  const [r] = await c.responses(1, 0, 5000);
  c.close();
  return { status: r!.status, headers: r!.headers, body: r!.body.toString() };
}

describe('router retries and circuit breakers', () => {
  it('retries a 5xx on the next host, replaying the request body; visible in stats and the access log', async () => {
    const bad = await startHttpUpstream((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(503);
        res.end('down');
      });
    });
    const good = await startHttpUpstream((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (b: Buffer) => parts.push(b));
      req.on('end', () => res.end(`got ${Buffer.concat(parts).length} attempt ${String(req.headers['x-envoy-attempt-count'])}`));
    });
    toClose.push(bad, good);
    const { t, port } = await proxy([bad.port, good.port], { retryPolicy: retry() });
    const body = 'b'.repeat(50_000);
    const r = await send(port, `POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\n\r\n`, body);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'got 50000 attempt 2');
    const s = t.stats.snapshot();
    assert.equal(s['cluster.backend.upstream_rq_retry'], 1);
    assert.equal(s['cluster.backend.upstream_rq_retry_success'], 1);
    assert.equal(s['cluster.backend.upstream_rq_active'], 0);
    await sleep(50);
    assert.equal(t.accessLines.at(-1)!.upstream_attempts, 2);
  });

  it('gives up after num_retries with the last upstream response and flag URX', async () => {
    let hits = 0;
    const bad = await startHttpUpstream((_req, res) => {
      hits++;
      res.writeHead(502);
      res.end('bad gateway');
    });
    toClose.push(bad);
    const { t, port } = await proxy([bad.port], { retryPolicy: retry({ retryOn: ['gateway-error'], numRetries: 2 }) });
    const r = await send(port, 'GET /x HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.equal(r.status, 502);
    assert.equal(r.body, 'bad gateway');
    const s = t.stats.snapshot();
    assert.equal(s['cluster.backend.upstream_rq_retry'], 2);
    assert.equal(s['cluster.backend.upstream_rq_retry_limit_exceeded'], 1);
    assert.equal(hits, 3);
    await sleep(50);
    const line = t.accessLines.at(-1)!;
    assert.equal(line.upstream_attempts, 3);
    assert.match(String(line.response_flags), /URX/);
  });

  it('does not retry a body larger than per_request_buffer_limit_bytes', async () => {
    const bad = await startHttpUpstream((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(503);
        res.end();
      });
    });
    toClose.push(bad);
    const { t, port } = await proxy([bad.port], { retryPolicy: retry(), perRequestBufferLimitBytes: 1000 });
    const body = 'b'.repeat(5000);
    const r = await send(port, `POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\n\r\n`, body);
    assert.equal(r.status, 503);
    assert.equal(t.stats.snapshot()['cluster.backend.upstream_rq_retry'] ?? 0, 0);
  });

  it('per_try_idle_timeout: a silent attempt is abandoned and retried on the next host', async () => {
    const silent = await startHttpUpstream(() => {});
    const good = await startHttpUpstream((_req, res) => res.end('ok'));
    toClose.push(silent, good);
    const { t, port } = await proxy([silent.port, good.port], { retryPolicy: retry({ retryOn: ['reset'], perTryIdleTimeoutMs: 200 }) });
    const t0 = Date.now();
    const r = await send(port, 'GET /x HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'ok');
    assert.ok(Date.now() - t0 < 1500);
    assert.equal(t.stats.snapshot()['cluster.backend.upstream_rq_per_try_idle_timeout'], 1);
  });

  it('retries a connect failure on another host', async () => {
    const good = await startHttpUpstream((_req, res) => res.end('ok'));
    toClose.push(good);
    const dead = await startHttpUpstream((_req, res) => res.end());
    const deadPort = dead.port;
    await dead.close();
    const { t, port } = await proxy([deadPort, good.port], { retryPolicy: retry({ retryOn: ['connect-failure'] }) });
    const r = await send(port, 'GET /x HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.equal(r.status, 200);
    assert.equal(t.stats.snapshot()['cluster.backend.upstream_cx_connect_fail'], 1);
  });

  it('max_requests overflow: 503 with x-envoy-overloaded and TESSERA_ERR_UPSTREAM_OVERFLOW', async () => {
    const slow = await startHttpUpstream((_req, res) => setTimeout(() => res.end('slow'), 300));
    toClose.push(slow);
    const limits = { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1, maxRetries: 3, retryBudget: null };
    const { t, port } = await proxy([slow.port], {}, { circuitBreakers: { default: limits, high: limits } });
    const [a, b] = await Promise.all([send(port, 'GET /1 HTTP/1.1\r\nHost: a\r\n\r\n'), send(port, 'GET /2 HTTP/1.1\r\nHost: a\r\n\r\n')]);
    const statuses = [a.status, b.status].sort();
    assert.deepEqual(statuses, [200, 503]);
    const shed = a.status === 503 ? a : b;
    assert.equal(shed.headers['x-envoy-overloaded'], 'true');
    assert.equal(t.stats.snapshot()['cluster.backend.upstream_rq_pending_overflow'], 1);
    await sleep(400);
    const line = t.accessLines.find((l) => l.status === 503)!;
    assert.equal(line.err_code, 'TESSERA_ERR_UPSTREAM_OVERFLOW');
    assert.equal(line.response_flags, 'UO');
  });

  it('max_connections with a pending queue: waiting requests are served in turn; beyond max_pending_requests they overflow', async () => {
    const slow = await startHttpUpstream((_req, res) => setTimeout(() => res.end('ok'), 150));
    toClose.push(slow);
    const limits = { maxConnections: 1, maxPendingRequests: 2, maxRequests: 1024, maxRetries: 3, retryBudget: null };
    const { t, port } = await proxy([slow.port], {}, { circuitBreakers: { default: limits, high: limits } });
    const rs = await Promise.all([1, 2, 3, 4].map((i) => send(port, `GET /${i} HTTP/1.1\r\nHost: a\r\n\r\n`)));
    const ok = rs.filter((r) => r.status === 200).length;
    assert.equal(ok, 3, JSON.stringify(rs.map((r) => r.status)));
    const s = t.stats.snapshot();
    assert.equal(s['cluster.backend.upstream_cx_total'], 1);
    assert.equal(s['cluster.backend.upstream_rq_pending_total'], 2);
    assert.equal(s['cluster.backend.upstream_rq_pending_overflow'], 1);
    assert.equal(s['cluster.backend.upstream_rq_pending_active'], 0);
  });

  it('answers gRPC requests with trailers-only local replies (grpc-status mapped from the HTTP status)', async () => {
    const t = testContext();
    const rc = routeConfig([vhost(['*'], [prefixRoute('/', forward('missing'))])]);
    const p = await startProxy(createHttpConnectionManager(hcmConfig({ routeConfig: rc }), t.ctx));
    toClose.push(p);
    const r = await send(p.port, 'POST /svc/M HTTP/1.1\r\nHost: a\r\nContent-Type: application/grpc\r\nContent-Length: 0\r\n\r\n');
    assert.equal(r.status, 200);
    assert.equal(r.headers['grpc-status'], '14');
    assert.equal(r.headers['grpc-message'], 'cluster%20not%20found');
    assert.equal(r.headers['content-type'], 'application/grpc');
  });
});
