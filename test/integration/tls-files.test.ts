// A static sidecar terminating TLS with PEM files named in its bootstrap (no control plane): the certificate
// is served, a client that opens a connection and never sends a ClientHello is cut at the handshake timeout,
// and the listener counts it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { bootstrap, httpListener, staticCluster, writeBootstrap } from '../helpers/bootstraps.js';
import { REPO, freePorts, request, startTessera, startUpstream, stopChild, tempDir, type ReadyChild, type Upstream } from '../helpers/mesh.js';

const run = promisify(execFile);
const FIX = path.join(REPO, 'test', 'fixtures', 'mesh', 'zero-trust');

describe('TLS from PEM files in a static bootstrap: certificate served, handshake timeout enforced', () => {
  const t = tempDir('tessera-tlsfiles-');
  let app: Upstream;
  let side: ReadyChild;
  let port = 0;
  let admin = 0;

  before(async () => {
    app = await startUpstream('files');
    [port, admin] = await freePorts(2);
    const l = httpListener('https', port, [{ match: { prefix: '/' }, route: { cluster: 'app' } }]);
    const fc = (l.filter_chains as Record<string, unknown>[])[0]!;
    fc.transport_socket = {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
        common_tls_context: {
          tls_certificates: [{ certificate_chain: { filename: path.join(FIX, 'shop.pem') }, private_key: { filename: path.join(FIX, 'shop-key.pem') } }],
          alpn_protocols: ['http/1.1'],
        },
      },
    };
    fc.transport_socket_connect_timeout = '0.5s';
    side = await startTessera(['sidecar', '--bootstrap', writeBootstrap(t.dir, 'tls', bootstrap('tls-files', admin!, [l], [staticCluster('app', [app.port])])), '--access-log', 'off'], {
      dir: t.dir,
      name: 'sidecar',
    });
  });

  after(async () => {
    await stopChild(side);
    await app.close();
    t.cleanup();
  });

  test('the certificate from the file is served and requests go through', async () => {
    const { stdout } = await run('curl', ['-sS', '-k', '-m', '5', '--resolve', `shop.example.com:${port}:127.0.0.1`, `https://shop.example.com:${port}/f`, '-w', '\n%{http_code}']);
    assert.match(stdout, /"name":"files"[\s\S]*\n200$/);
    const { stdout: subj } = await run('sh', ['-c', `openssl s_client -connect 127.0.0.1:${port} -servername shop.example.com </dev/null 2>/dev/null | openssl x509 -noout -subject`]);
    assert.match(subj, /shop\.example\.com/);
  });

  test('a client silent after connecting is closed at transport_socket_connect_timeout (0.5 s)', async () => {
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => {});
      s.on('close', () => resolve(Date.now() - started));
      setTimeout(() => s.destroy(), 5000);
    });
    assert.ok(closedAfter >= 400 && closedAfter < 3000, `closed after ${closedAfter} ms`);
    const stats = await request(`http://127.0.0.1:${admin}/stats`);
    assert.match(stats.body, /listener\.127\.0\.0\.1_\d+\.ssl\.handshake_timeout: 1/);
  });
});
