// The edge gateway's HTTPS listener from the mesh config, with real processes: a certificate per SNI host
// (served as SDS secrets by the control plane), ALPN h2 and http/1.1, the plain listener redirecting to https,
// HSTS on HTTPS answers. Clients: curl and openssl s_client.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { REPO, eventually, freePorts, startUpstream, startZeroTrustMesh, stopChild, tempDir, type Upstream, type ZeroTrustMesh } from '../helpers/mesh.js';

const run = promisify(execFile);
const TD = 'edge.test';
const FIX = path.join(REPO, 'test', 'fixtures', 'mesh', 'zero-trust');

describe('edge gateway TLS: SNI certificates, ALPN, http → https redirect, HSTS', () => {
  const t = tempDir('tessera-edge-');
  let zt: ZeroTrustMesh;
  let app: Upstream;
  let https = 0;
  let plain = 0;

  async function curl(args: string[]): Promise<string> {
    const { stdout } = await run('curl', ['-sS', '-m', '5', ...args]);
    return stdout;
  }

  before(async () => {
    app = await startUpstream('shop');
    [https, plain] = await freePorts(2);
    for (const f of ['shop.pem', 'shop-key.pem', 'api.pem', 'api-key.pem']) copyFileSync(path.join(FIX, f), path.join(t.dir, f));
    zt = await startZeroTrustMesh(
      t.dir,
      `mesh: { name: edge, trust_domain: ${TD} }
services:
  - name: shop
    protocol: http
    instances:
      - { id: shop-1, address: 127.0.0.1, port: ${app.port} }
gateways:
  - name: edge
    listen: 127.0.0.1:${https}
    tls:
      hosts:
        - { hosts: [shop.example.com], cert_file: shop.pem, key_file: shop-key.pem }
        - { hosts: [api.example.com, "*.example.com"], cert_file: api.pem, key_file: api-key.pem }
      http_redirect_listen: 127.0.0.1:${plain}
      hsts: { max_age: 1y, include_subdomains: true }
    routes:
      - match: { prefix: / }
        destinations: [{ service: shop }]
`,
      TD,
    );
    await zt.proxy('edge', 'edge', { command: 'gateway' });
    await eventually(async () => {
      try {
        return (await curl(['-k', '-o', '/dev/null', '-w', '%{http_code}', '--resolve', `shop.example.com:${https}:127.0.0.1`, `https://shop.example.com:${https}/`])) === '200';
      } catch {
        return false;
      }
    }, 15000);
  });

  after(async () => {
    for (const c of zt.children.reverse()) await stopChild(c);
    await app.close();
    t.cleanup();
  });

  async function servedSubject(sni: string): Promise<string> {
    const { stdout } = await run('sh', ['-c', `openssl s_client -connect 127.0.0.1:${https} -servername ${sni} </dev/null 2>/dev/null | openssl x509 -noout -subject`]);
    return stdout.trim();
  }

  test('each SNI host gets its own certificate; a wildcard host the second one', async () => {
    assert.match(await servedSubject('shop.example.com'), /CN ?= ?shop\.example\.com/);
    assert.match(await servedSubject('api.example.com'), /CN ?= ?api\.example\.com/);
    assert.match(await servedSubject('img.example.com'), /CN ?= ?api\.example\.com/);
  });

  test('ALPN: curl gets HTTP/2 over TLS when it offers h2, HTTP/1.1 otherwise; HSTS on every HTTPS answer', async () => {
    const h2 = await curl(['-k', '-i', '--http2', '--resolve', `shop.example.com:${https}:127.0.0.1`, `https://shop.example.com:${https}/h2`]);
    assert.match(h2, /^HTTP\/2 200/);
    assert.match(h2, /strict-transport-security: max-age=31536000; includeSubDomains/i);
    assert.match(h2, /"name":"shop"/);
    const h1 = await curl(['-k', '-i', '--http1.1', '--resolve', `shop.example.com:${https}:127.0.0.1`, `https://shop.example.com:${https}/h1`]);
    assert.match(h1, /^HTTP\/1\.1 200/);
    assert.match(h1, /"x-forwarded-proto":"https"/);
  });

  test('the plain listener redirects to https (301), keeping the path and naming the HTTPS port', async () => {
    const r = await curl(['-i', '-H', `host: shop.example.com:${plain}`, `http://127.0.0.1:${plain}/cart?x=1`]);
    assert.match(r, /^HTTP\/1\.1 301/);
    assert.match(r, new RegExp(`location: https://shop\\.example\\.com:${https}/cart\\?x=1`, 'i'));
  });
});
