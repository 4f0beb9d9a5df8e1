// End to end with real processes on loopback: control plane, sidecars and an edge gateway, driven by
// node:http and curl. Covers routing, live config pushes under load, control-plane loss, drain on SIGTERM.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import {
  REPO,
  eventually,
  staticBootstrap,
  freePorts,
  request,
  startLoad,
  startTessera,
  startUpstream,
  stopChild,
  tempDir,
  type ReadyChild,
  type Upstream,
} from '../helpers/mesh.js';

const run = promisify(execFile);

interface Ports {
  xds: number;
  cpAdmin: number;
  gw: number;
  gwAdmin: number;
  api1Sidecar: number;
  api2Sidecar: number;
  webSidecar: number;
  webToApi: number;
  webToEcho: number;
  echoSidecar: number;
}

function meshYaml(p: Ports, up: { api1: number; api2: number; web: number; echo: number }, variant = 0): string {
  return `mesh: { name: e2e }
services:
  - name: api
    protocol: http
    connect_timeout: 1s
    instances:
      - { id: api-1, address: 127.0.0.1, port: ${up.api1}, sidecar_port: ${p.api1Sidecar}, labels: { version: v1 } }
      - { id: api-2, address: 127.0.0.1, port: ${up.api2}, sidecar_port: ${p.api2Sidecar}, labels: { version: v2 } }
  - name: web
    protocol: http
    instances:
      - { id: web-1, address: 127.0.0.1, port: ${up.web}, sidecar_port: ${p.webSidecar} }
    dependencies:
      - { service: api, port: ${p.webToApi} }
      - { service: echo, port: ${p.webToEcho} }
  - name: echo
    protocol: tcp
    instances:
      - { id: echo-1, address: 127.0.0.1, port: ${up.echo}, sidecar_port: ${p.echoSidecar} }
routes:
  - service: api
    rules:
      - name: v2-by-header
        match: { prefix: /, headers: { x-version: { exact: v2 } } }
        destinations: [{ service: api, subset: { version: v2 } }]
        headers:
          response: { add: { x-variant: "${variant}" } }
      - name: default
        match: { prefix: / }
        destinations: [{ service: api, subset: { version: v1 } }]
        headers:
          request: { add: { x-mesh: "yes" } }
          response: { add: { x-variant: "${variant}" } }
gateways:
  - name: edge
    listen: 127.0.0.1:${p.gw}
    routes:
      - match: { path: /healthz }
        direct_response: { status: 200, body: "ok" }
      - match: { prefix: /moved }
        redirect: { path: /api/items, code: 301 }
      - match: { prefix: /api/ }
        destinations: [{ service: api }]
        rewrite: { prefix: / }
      - match: { prefix: / }
        destinations: [{ service: web }]
`;
}

describe('mesh end to end (real processes)', { timeout: 180000 }, () => {
  const t = tempDir();
  const meshFile = path.join(t.dir, 'mesh.yaml');
  let p: Ports;
  const ups: Record<string, Upstream> = {};
  let echoServer: net.Server;
  let echoPort = 0;
  let cp: ReadyChild;
  const proxies: ReadyChild[] = [];
  let upPorts: { api1: number; api2: number; web: number; echo: number };
  let cpArgs: string[];

  before(async () => {
    const [xds, cpAdmin, gw, gwAdmin, api1Sidecar, api2Sidecar, webSidecar, webToApi, webToEcho, echoSidecar] = await freePorts(10);
    p = { xds: xds!, cpAdmin: cpAdmin!, gw: gw!, gwAdmin: gwAdmin!, api1Sidecar: api1Sidecar!, api2Sidecar: api2Sidecar!, webSidecar: webSidecar!, webToApi: webToApi!, webToEcho: webToEcho!, echoSidecar: echoSidecar! };
    ups.api1 = await startUpstream('api-1');
    ups.api2 = await startUpstream('api-2');
    ups.web = await startUpstream('web-1');
    echoServer = net.createServer({ allowHalfOpen: true }, (s) => {
      s.pipe(s);
    });
    await new Promise<void>((r) => echoServer.listen(0, '127.0.0.1', () => r()));
    echoPort = (echoServer.address() as net.AddressInfo).port;
    upPorts = { api1: ups.api1.port, api2: ups.api2.port, web: ups.web.port, echo: echoPort };
    writeFileSync(meshFile, meshYaml(p, upPorts));
    cpArgs = ['control-plane', '--config', meshFile, '--xds-port', String(p.xds), '--admin-port', String(p.cpAdmin)];
    cp = await startTessera(cpArgs, { dir: t.dir, name: 'control-plane' });
    const xdsAddr = `127.0.0.1:${p.xds}`;
    const starts = [
      startTessera(['sidecar', '--node-id', 'api-1', '--xds', xdsAddr], { dir: t.dir, name: 'api-1' }),
      startTessera(['sidecar', '--node-id', 'api-2', '--xds', xdsAddr, '--delta'], { dir: t.dir, name: 'api-2' }),
      startTessera(['sidecar', '--node-id', 'web-1', '--xds', xdsAddr], { dir: t.dir, name: 'web-1' }),
      startTessera(['sidecar', '--node-id', 'echo-1', '--xds', xdsAddr], { dir: t.dir, name: 'echo-1' }),
      startTessera(['gateway', '--node-id', 'edge', '--xds', xdsAddr, '--admin-port', String(p.gwAdmin)], { dir: t.dir, name: 'edge' }),
    ];
    proxies.push(...(await Promise.all(starts)));
  });

  after(async () => {
    for (const c of proxies) await stopChild(c);
    if (cp) await stopChild(cp);
    for (const u of Object.values(ups)) await u.close();
    echoServer?.close();
    t.cleanup();
  });

  test('gateway → sidecar → app: routes, rewrite, headers, direct response, redirect', async () => {
    const gw = `http://127.0.0.1:${p.gw}`;
    const health = await request(`${gw}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(health.body, 'ok');

    const moved = await request(`${gw}/moved`);
    assert.equal(moved.status, 301);
    assert.match(String(moved.headers.location), /\/api\/items$/);

    const r = await request(`${gw}/api/items?x=1`);
    assert.equal(r.status, 200, r.body);
    const seen = JSON.parse(r.body) as { name: string; path: string; headers: Record<string, string> };
    assert.ok(seen.name === 'api-1' || seen.name === 'api-2');
    assert.equal(seen.path, '/items?x=1', 'prefix /api/ rewritten to /');
    assert.ok(seen.headers['x-request-id'], 'x-request-id generated');
    assert.match(seen.headers['x-forwarded-for'] ?? '', /127\.0\.0\.1/);

    const web = await request(`${gw}/hello`);
    assert.equal(web.status, 200);
    assert.equal((JSON.parse(web.body) as { name: string }).name, 'web-1');
  });

  test('sidecar outbound listener applies the service routes (subsets by header, header mutations)', async () => {
    const out = `http://127.0.0.1:${p.webToApi}`;
    for (let i = 0; i < 6; i++) {
      const v1 = await request(`${out}/x`);
      assert.equal(v1.status, 200, v1.body);
      const b = JSON.parse(v1.body) as { name: string; headers: Record<string, string> };
      assert.equal(b.name, 'api-1');
      assert.equal(b.headers['x-mesh'], 'yes');
      assert.equal(v1.headers['x-variant'], '0');
      const v2 = await request(`${out}/x`, { headers: { 'x-version': 'v2' } });
      assert.equal((JSON.parse(v2.body) as { name: string }).name, 'api-2');
    }
  });

  test('tcp service through the sidecar outbound and inbound tcp_proxy, with half-close', async () => {
    const got = await new Promise<string>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: p.webToEcho, allowHalfOpen: true }, () => {
        s.write('hello through two tcp proxies');
        s.end();
      });
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('end', () => resolve(Buffer.concat(chunks).toString()));
      s.on('error', reject);
      s.setTimeout(5000, () => reject(new Error('tcp echo timeout')));
    });
    assert.equal(got, 'hello through two tcp proxies');
  });

  test('curl: keep-alive reuse, chunked upload with Expect: 100-continue', async () => {
    const gw = `http://127.0.0.1:${p.gw}`;
    const { stderr } = await run('curl', ['-sv', '-o', '/dev/null', '-o', '/dev/null', `${gw}/api/a`, `${gw}/api/b`]);
    assert.match(stderr, /Re-using existing connection|Reusing existing/i);
    const bigFile = path.join(t.dir, 'big.bin');
    writeFileSync(bigFile, Buffer.alloc(3 * 1024 * 1024, 7));
    const { stdout, stderr: e2 } = await run('curl', ['-sv', '-H', 'Transfer-Encoding: chunked', '-H', 'Expect: 100-continue', '--data-binary', `@${bigFile}`, `${gw}/api/upload`], {
      maxBuffer: 1 << 20,
    });
    assert.match(e2, /100 Continue/);
    const body = JSON.parse(stdout) as { method: string; body_bytes: number };
    assert.equal(body.method, 'POST');
    assert.equal(body.body_bytes, 3 * 1024 * 1024);
  });

  test("deploy/examples' Envoy bootstrap works unchanged (only the xDS port and admin port substituted)", async () => {
    const [admin] = await freePorts(1);
    const text = readFileSync(path.join(REPO, 'deploy/examples/envoy-bootstrap-ads.yaml'), 'utf8')
      .replace('port_value: 18000', `port_value: ${p.xds}`)
      .replace('port_value: 15000', `port_value: ${admin}`)
      .replace('id: frontend-1', 'id: example-proxyless');
    const file = path.join(t.dir, 'envoy-bootstrap.yaml');
    writeFileSync(file, text);
    const sc = await startTessera(['sidecar', '--bootstrap', file], { dir: t.dir, name: 'example-bootstrap' });
    try {
      const ready = await request(`http://127.0.0.1:${admin}/ready`);
      assert.equal(ready.status, 200);
      // A node the mesh config does not name gets the proxyless view: an API listener and an EDS cluster per service.
      const dump = JSON.parse((await request(`http://127.0.0.1:${admin}/config_dump`)).body) as { clusters: Array<{ name: string }> };
      assert.ok(dump.clusters.some((c) => c.name === 'api'), JSON.stringify(dump.clusters));
      const clusters = JSON.parse((await request(`http://127.0.0.1:${admin}/clusters?format=json`)).body) as {
        clusters: Array<{ name: string; endpoints: Array<{ address: string }> }>;
      };
      const api = clusters.clusters.find((c) => c.name === 'api');
      assert.deepEqual(api?.endpoints.map((e) => e.address).sort(), [`127.0.0.1:${upPorts.api1}`, `127.0.0.1:${upPorts.api2}`].sort());
    } finally {
      assert.equal(await stopChild(sc), 0);
    }
  });

  test('zero failed requests across 50 config pushes under steady load', async () => {
    const load = startLoad(`http://127.0.0.1:${p.gw}/api/steady`, { concurrency: 4, maxMs: 90000 });
    const adminUrl = `http://127.0.0.1:${p.gwAdmin}/config_dump`;
    for (let i = 1; i <= 50; i++) {
      writeFileSync(meshFile, meshYaml(p, upPorts, i));
      await eventually(async () => {
        const r = await request(`http://127.0.0.1:${p.webToApi}/probe`);
        return r.headers['x-variant'] === String(i);
      }, 5000, 20);
    }
    const stats = await load.stop();
    assert.ok(stats.ok > 100, `load made progress (${stats.ok} ok)`);
    assert.equal(stats.failed, 0, `failures: ${stats.errors.join(' | ')}`);
    const dump = await request(adminUrl);
    assert.equal(dump.status, 200);
  });

  test('an invalid mesh edit is rejected and traffic keeps flowing', async () => {
    writeFileSync(meshFile, meshYaml(p, upPorts, 77).replace('protocol: http', 'protocol: htp'));
    await new Promise((r) => setTimeout(r, 1500));
    const r = await request(`http://127.0.0.1:${p.gw}/api/still`);
    assert.equal(r.status, 200);
    const cfg = JSON.parse((await request(`http://127.0.0.1:${p.cpAdmin}/config`)).body) as { last_rejected_config_errors: string[] };
    assert.ok(cfg.last_rejected_config_errors.some((e) => e.includes('protocol')), JSON.stringify(cfg));
    writeFileSync(meshFile, meshYaml(p, upPorts, 78));
    await eventually(async () => (await request(`http://127.0.0.1:${p.webToApi}/p`)).headers['x-variant'] === '78', 5000, 50);
  });

  test('control plane killed: traffic keeps flowing; after restart sidecars reconnect and follow changes', async () => {
    const load = startLoad(`http://127.0.0.1:${p.gw}/api/during-outage`, { concurrency: 2, maxMs: 60000 });
    await stopChild(cp, 3000);
    await new Promise((r) => setTimeout(r, 1500));
    const mid = await request(`http://127.0.0.1:${p.webToApi}/x`);
    assert.equal(mid.status, 200);
    writeFileSync(meshFile, meshYaml(p, upPorts, 99));
    cp = await startTessera(cpArgs, { dir: t.dir, name: 'control-plane-2' });
    await eventually(async () => (await request(`http://127.0.0.1:${p.webToApi}/p`)).headers['x-variant'] === '99', 15000, 100);
    const stats = await load.stop();
    assert.equal(stats.failed, 0, `failures: ${stats.errors.join(' | ')}`);
    // Every proxy (SotW and delta) reconnects within its backoff (at most 10 s).
    await eventually(async () => {
      const status = JSON.parse((await request(`http://127.0.0.1:${p.cpAdmin}/status`)).body) as { proxies: Array<{ nodeId: string }> };
      const ids = new Set(status.proxies.map((x) => x.nodeId));
      return ['api-1', 'api-2', 'web-1', 'echo-1', 'edge'].every((id) => ids.has(id));
    }, 20000, 250);
  });

  test('SIGTERM drains: an in-flight slow request completes and the sidecar exits 0', async () => {
    const slow = await startUpstream('slow', (_req, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('slow done');
      }, 800);
    });
    const [lport, admin] = await freePorts(2);
    const bootstrap = path.join(t.dir, 'drain.yaml');
    writeFileSync(bootstrap, staticBootstrap({ nodeId: 'drain-test', listenPort: lport!, adminPort: admin!, upstreamPort: slow.port }));
    const sc = await startTessera(['sidecar', '--bootstrap', bootstrap, '--drain-timeout', '5000'], { dir: t.dir, name: 'drain' });
    const inflight = request(`http://127.0.0.1:${lport}/slow`);
    await new Promise((r) => setTimeout(r, 200));
    sc.child.kill('SIGTERM');
    const r = await inflight;
    assert.equal(r.status, 200);
    assert.equal(r.body, 'slow done');
    assert.equal(await sc.exited, 0);
    await slow.close();
  });
});
