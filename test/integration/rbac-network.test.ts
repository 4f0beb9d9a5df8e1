// envoy.filters.network.rbac in front of tcp_proxy in a real sidecar process: a denied connection is closed before
// a byte reaches the upstream (which never even sees a connection), an allowed one is proxied, stats count both,
// and a network RBAC config that names an HTTP-only field is rejected at start with its path.
import assert from 'node:assert/strict';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { bootstrap, staticCluster, tcpListener, writeBootstrap, type Json } from '../helpers/bootstraps.js';
import { BIN, freePorts, request, startTessera, stopChild, tempDir, type ReadyChild } from '../helpers/mesh.js';

const NET_RBAC = 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC';
const run = promisify(execFile);

function netRbac(statPrefix: string, rules: Json): Json {
  return { name: 'envoy.filters.network.rbac', typed_config: { '@type': NET_RBAC, stat_prefix: statPrefix, rules } };
}

/** Connects, writes `ping`, and resolves with what came back before the connection closed (bounded). */
function exchange(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error('no close within 3 s'));
    }, 3000);
    s.on('connect', () => s.write('ping'));
    s.on('data', (b: Buffer) => {
      got += b.toString();
      if (got.includes('pong')) s.end();
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(t);
      resolve(got);
    });
  });
}

describe('network RBAC before tcp_proxy, in a sidecar process', { timeout: 60000 }, () => {
  const { dir, cleanup } = tempDir('tessera-netrbac-');
  let side: ReadyChild;
  let upstream: net.Server;
  let upstreamConnections = 0;
  let allowPort = 0;
  let denyPort = 0;
  let admin = 0;

  before(async () => {
    upstream = net.createServer((s) => {
      upstreamConnections++;
      s.on('data', () => s.end('pong'));
      s.on('error', () => {});
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const upPort = (upstream.address() as net.AddressInfo).port;
    [allowPort, denyPort, admin] = (await freePorts(3)) as [number, number, number];
    const b = bootstrap('netrbac', admin, [
      tcpListener('allow', allowPort, 'echo', [netRbac('allow_in', { action: 'ALLOW', policies: { lo: { permissions: [{ destination_port: allowPort }], principals: [{ direct_remote_ip: { address_prefix: '127.0.0.0', prefix_len: 8 } }] } } })]),
      tcpListener('deny', denyPort, 'echo', [netRbac('deny_in', { action: 'DENY', policies: { lo: { permissions: [{ any: true }], principals: [{ source_ip: { address_prefix: '127.0.0.1', prefix_len: 32 } }] } } })]),
    ], [staticCluster('echo', [upPort])]);
    side = await startTessera(['sidecar', '--bootstrap', writeBootstrap(dir, 'netrbac', b), '--access-log', 'off'], { dir, name: 'sidecar' });
  });

  after(async () => {
    await stopChild(side);
    await new Promise<void>((r) => upstream.close(() => r()));
    cleanup();
  });

  it('proxies an allowed connection and closes a denied one before it reaches the upstream', async () => {
    assert.equal(await exchange(allowPort), 'pong');
    assert.equal(upstreamConnections, 1);
    for (let i = 0; i < 3; i++) assert.equal(await exchange(denyPort), '');
    assert.equal(upstreamConnections, 1, 'denied connections never reached the upstream');
    const stats = JSON.parse((await request(`http://127.0.0.1:${admin}/stats?format=json`)).body) as Record<string, number>;
    assert.equal(stats['allow_in.rbac.allowed'], 1);
    assert.equal(stats['deny_in.rbac.denied'], 3);
    assert.equal(stats['deny_in.rbac.allowed'] ?? 0, 0);
  });

  it('a network RBAC policy on an HTTP-only field is rejected with its path', async () => {
    const b = bootstrap('bad', 0, [
      tcpListener('bad', allowPort, 'echo', [netRbac('bad', { action: 'DENY', policies: { p: { permissions: [{ url_path: { path: { prefix: '/x' } } }], principals: [{ any: true }] } } })]),
    ], [staticCluster('echo', [1])]);
    const file = writeBootstrap(dir, 'bad', b);
    // Bounded: a sidecar that accepted the config would keep running.
    const side2 = await run(process.execPath, [BIN, 'sidecar', '--bootstrap', file], { timeout: 15000 }).catch((e: { stderr: string; code: number }) => e);
    assert.equal((side2 as { code: number }).code, 2, (side2 as { stderr: string }).stderr);
    assert.match((side2 as { stderr: string }).stderr, /filters\[0\]\.typed_config\.rules\.policies\["p"\]\.permissions\[0\]\.url_path/);
  });
});
