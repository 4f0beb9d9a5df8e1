// Resilience through a real sidecar process with backends that fail on purpose: retries + outlier detection
// absorb a flaky host, a killed host costs nothing with retries, slow hosts trip timeouts (route and per-try),
// circuit breakers shed with x-envoy-overloaded, active health checks steer traffic, ring hash is sticky,
// and the fault filter injects aborts and delays.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { bootstrap, httpListener, staticCluster, writeBootstrap, type Json } from '../helpers/bootstraps.js';
import { eventually, freePorts, request, startLoad, startTessera, startUpstream, stopChild, tempDir, type ReadyChild, type Upstream } from '../helpers/mesh.js';

const FAULT = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';

function answer(name: string) {
  return (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res.writeHead(200, { 'x-upstream': name, 'content-type': 'text/plain' });
    res.end(name);
  };
}

describe('resilience: retries, outlier detection, timeouts, circuit breakers, health checks, hashing, faults', () => {
  const { dir, cleanup } = tempDir();
  const ups: Upstream[] = [];
  let side: ReadyChild;
  let port = 0;
  let admin = 0;
  let flakyBad: Upstream;
  let killable: Upstream[];
  let checked: Upstream[];
  let healthy = true;
  let deadPort = 0;

  const url = (p: string) => `http://127.0.0.1:${port}${p}`;
  const stats = async (): Promise<Record<string, number>> => JSON.parse((await request(`http://127.0.0.1:${admin}/stats?format=json`)).body) as Record<string, number>;

  before(async () => {
    const up = async (name: string, h?: (req: http.IncomingMessage, res: http.ServerResponse) => void) => {
      const u = await startUpstream(name, h ?? answer(name));
      ups.push(u);
      return u;
    };
    let flip = 0;
    const flakyGood = [await up('good-1'), await up('good-2')];
    flakyBad = await up('bad', (_req, res) => {
      // 503 on every other request.
      if (flip++ % 2 === 0) {
        res.writeHead(503, { 'x-upstream': 'bad' });
        res.end('unavailable');
      } else answer('bad')(_req, res);
    });
    killable = [await up('k1'), await up('k2')];
    const slow = await up('slow', (_req, res) => setTimeout(() => answer('slow')(_req, res), 2000).unref());
    const fast = await up('fast');
    const narrow = await up('narrow', (_req, res) => setTimeout(() => answer('narrow')(_req, res), 600).unref());
    checked = [
      await up('c1'),
      await up('c2', (req, res) => {
        if (req.url === '/healthz') {
          res.writeHead(healthy ? 200 : 503);
          res.end();
        } else answer('c2')(req, res);
      }),
    ];
    const sticky = [await up('s1'), await up('s2'), await up('s3'), await up('s4')];
    const backup = await up('backup');
    [port, admin, deadPort] = (await freePorts(3)) as [number, number, number];

    const retry5xx = { retry_on: '5xx', num_retries: 3, retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }], host_selection_retry_max_attempts: 5 };
    const routes: Json[] = [
      { match: { prefix: '/flaky' }, route: { cluster: 'flaky', retry_policy: retry5xx } },
      { match: { prefix: '/killable' }, route: { cluster: 'killable', retry_policy: { retry_on: 'reset,connect-failure', num_retries: 2, retry_host_predicate: retry5xx.retry_host_predicate, host_selection_retry_max_attempts: 3 } } },
      { match: { prefix: '/slow' }, route: { cluster: 'slow', timeout: '0.5s' } },
      { match: { prefix: '/per-try' }, route: { cluster: 'mixed', timeout: '3s', retry_policy: { retry_on: '5xx', num_retries: 2, per_try_timeout: '0.3s', retry_host_predicate: retry5xx.retry_host_predicate } } },
      { match: { prefix: '/narrow' }, route: { cluster: 'narrow' } },
      { match: { prefix: '/checked' }, route: { cluster: 'checked' } },
      { match: { prefix: '/sticky' }, route: { cluster: 'sticky', hash_policy: [{ header: { header_name: 'x-user' } }] } },
      { match: { prefix: '/fault' }, route: { cluster: 'fast' } },
      { match: { prefix: '/failover' }, route: { cluster: 'failover' } },
    ];
    const faultFilter = {
      name: 'envoy.filters.http.fault',
      typed_config: {
        '@type': FAULT,
        abort: { http_status: 418, percentage: { numerator: 100, denominator: 'HUNDRED' } },
        delay: { header_delay: {}, percentage: { numerator: 100, denominator: 'HUNDRED' } },
        headers: [{ name: 'x-fault', string_match: { exact: 'yes' } }],
      },
    };
    const clusters = [
      staticCluster('flaky', [flakyGood[0]!.port, flakyGood[1]!.port, flakyBad.port], {
        extra: {
          outlier_detection: {
            interval: '0.3s', base_ejection_time: '30s', max_ejection_percent: 50, consecutive_5xx: 0,
            failure_percentage_threshold: 30, enforcing_failure_percentage: 100, failure_percentage_minimum_hosts: 3, failure_percentage_request_volume: 10,
          },
          // Envoy's default max_retries (3 concurrent retries) would shed retries under this load: a budget instead.
          circuit_breakers: { thresholds: [{ retry_budget: { budget_percent: { value: 50 }, min_retry_concurrency: 10 } }] },
        },
      }),
      staticCluster('killable', killable.map((u) => u.port), { extra: { circuit_breakers: { thresholds: [{ max_retries: 50 }] } } }),
      staticCluster('slow', [slow.port]),
      staticCluster('mixed', [slow.port, fast.port]),
      staticCluster('fast', [fast.port]),
      staticCluster('narrow', [narrow.port], { extra: { circuit_breakers: { thresholds: [{ max_requests: 2, max_pending_requests: 1, max_connections: 2 }] } } }),
      staticCluster('checked', checked.map((u) => u.port), {
        extra: {
          health_checks: [{ timeout: '0.5s', interval: '0.1s', unhealthy_threshold: 2, healthy_threshold: 1, http_health_check: { path: '/healthz' } }],
          common_lb_config: { healthy_panic_threshold: { value: 0 } },
        },
      }),
      staticCluster('sticky', sticky.map((u) => u.port), { extra: { lb_policy: 'RING_HASH' } }),
      {
        // Priority 0 is a host nobody listens on (its TCP health check fails); priority 1 takes the load.
        name: 'failover',
        type: 'STATIC',
        connect_timeout: '0.5s',
        load_assignment: {
          cluster_name: 'failover',
          endpoints: [
            { priority: 0, lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: deadPort } } } }] },
            { priority: 1, lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: backup.port } } } }] },
          ],
        },
        health_checks: [{ timeout: '0.2s', interval: '0.1s', unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: {} }],
      },
    ];
    const b = bootstrap('resilience', admin, [httpListener('main', port, routes, {}, [faultFilter])], clusters);
    side = await startTessera(['sidecar', '--bootstrap', writeBootstrap(dir, 'sidecar', b), '--access-log', 'off'], { dir, name: 'sidecar' });
  });

  after(async () => {
    if (side) await stopChild(side);
    for (const u of ups) await u.close();
    cleanup();
  });

  it('one of three hosts failing half its requests: ≥ 99.9% success, and the host is ejected', async () => {
    const load = startLoad(url('/flaky'), { concurrency: 8, maxRequests: 2000, maxMs: 30000 });
    await eventually(async () => load.stats.ok + load.stats.failed >= 2000, 30000);
    const s = await load.stop();
    const total = s.ok + s.failed;
    assert.ok(total >= 2000);
    assert.ok(s.ok / total >= 0.999, `success ${s.ok}/${total}: ${s.errors.join('; ')}`);
    const st = await eventually(async () => {
      const x = await stats();
      return (x['cluster.flaky.outlier_detection.ejections_enforced_failure_percentage'] ?? 0) >= 1 ? x : null;
    }, 5000);
    assert.ok((st['cluster.flaky.upstream_rq_retry'] ?? 0) > 0);
    const { clusters } = JSON.parse((await request(`http://127.0.0.1:${admin}/clusters?format=json`)).body) as { clusters: { name: string; endpoints: { address: string; health_flags: string }[] }[] };
    const flaky = clusters.find((c) => c.name === 'flaky')!;
    assert.equal(flaky.endpoints.find((e) => e.address === `127.0.0.1:${flakyBad.port}`)!.health_flags, '/failed_outlier_check');
    // Once ejected, the bad host sees no more traffic.
    const before = flakyBad.requests;
    for (let i = 0; i < 30; i++) assert.equal((await request(url('/flaky'))).status, 200);
    assert.equal(flakyBad.requests, before);
  });

  it('a killed backend costs no request when resets and connect failures are retried', async () => {
    const load = startLoad(url('/killable'), { concurrency: 6, maxMs: 20000, maxRequests: 100000 });
    await new Promise((r) => setTimeout(r, 400));
    await killable[0]!.close();
    await new Promise((r) => setTimeout(r, 600));
    const s = await load.stop();
    assert.ok(s.ok > 100, `only ${s.ok} requests`);
    assert.equal(s.failed, 0, s.errors.join('; '));
  });

  it('a slow backend trips the route timeout (504), not the client', async () => {
    const t0 = Date.now();
    const r = await request(url('/slow'));
    const ms = Date.now() - t0;
    assert.equal(r.status, 504);
    assert.equal(r.body, 'upstream request timeout');
    assert.ok(ms >= 400 && ms < 1500, `took ${ms} ms`);
  });

  it('per-try timeout: a slow host is abandoned and the retry goes to another host', async () => {
    for (let i = 0; i < 6; i++) {
      const t0 = Date.now();
      const r = await request(url('/per-try'));
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-upstream'], 'fast');
      assert.ok(Date.now() - t0 < 1500);
    }
    assert.ok(((await stats())['cluster.mixed.upstream_rq_per_try_timeout'] ?? 0) >= 1);
  });

  it('circuit breaker: requests beyond max_requests get 503 with x-envoy-overloaded', async () => {
    const rs = await Promise.all(Array.from({ length: 8 }, () => request(url('/narrow'))));
    const ok = rs.filter((r) => r.status === 200).length;
    const shed = rs.filter((r) => r.status === 503 && r.headers['x-envoy-overloaded'] === 'true');
    assert.ok(ok >= 1 && ok <= 3, `ok ${ok}`);
    assert.equal(ok + shed.length, 8);
    assert.ok(((await stats())['cluster.narrow.upstream_rq_pending_overflow'] ?? 0) >= 1);
  });

  it('active health checks take a failing host out of rotation and bring it back', async () => {
    const seen = async () => {
      const names = new Set<string>();
      for (let i = 0; i < 10; i++) names.add(String((await request(url('/checked'))).headers['x-upstream']));
      return names;
    };
    await eventually(async () => (await seen()).size === 2, 5000);
    healthy = false;
    await eventually(async () => {
      const n = await seen();
      return n.size === 1 && n.has('c1');
    }, 5000);
    const text = (await request(`http://127.0.0.1:${admin}/clusters`)).body;
    assert.ok(text.includes(`checked::127.0.0.1:${checked[1]!.port}::health_flags::/failed_active_hc`), text);
    healthy = true;
    await eventually(async () => (await seen()).size === 2, 5000);
  });

  it('ring hash on a header is sticky per user and spreads users over hosts', async () => {
    const hostOf = new Map<string, string>();
    for (let u = 0; u < 20; u++) {
      for (let i = 0; i < 3; i++) {
        const r = await request(url('/sticky'), { headers: { 'x-user': `user-${u}` } });
        assert.equal(r.status, 200);
        const h = String(r.headers['x-upstream']);
        if (hostOf.has(`user-${u}`)) assert.equal(hostOf.get(`user-${u}`), h, `user-${u} moved`);
        hostOf.set(`user-${u}`, h);
      }
    }
    assert.ok(new Set(hostOf.values()).size >= 3);
  });

  it('priority failover: with priority 0 unhealthy, priority 1 serves', async () => {
    await eventually(async () => (await request(url('/failover'))).headers['x-upstream'] === 'backup', 5000);
    for (let i = 0; i < 10; i++) assert.equal((await request(url('/failover'))).headers['x-upstream'], 'backup');
  });

  it('fault filter: aborts and header-driven delays only for matching requests', async () => {
    assert.equal((await request(url('/fault'))).status, 200);
    const aborted = await request(url('/fault'), { headers: { 'x-fault': 'yes' } });
    assert.equal(aborted.status, 418);
    const t0 = Date.now();
    const delayed = await request(url('/fault'), { headers: { 'x-fault': 'yes', 'x-envoy-fault-delay-request': '300', 'x-envoy-fault-abort-request': '200' } });
    assert.ok(Date.now() - t0 >= 280);
    assert.equal(delayed.status, 418);
    const st = await stats();
    assert.ok((st['http.main.fault.aborts_injected'] ?? 0) >= 1);
    assert.ok((st['http.main.fault.delays_injected'] ?? 0) >= 1);
  });
});
