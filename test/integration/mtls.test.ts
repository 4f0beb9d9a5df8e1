// mTLS in the data path with real processes: a CA-mode control plane, a `web` sidecar calling `api` (STRICT,
// authorization by identity) and `tcpdb` (tcp, STRICT) over mTLS with SDS secrets (the workload identity's
// "default", ROOTCA over ADS). Checked from outside with curl and openssl s_client: plaintext to a STRICT port,
// no client certificate, a certificate from another CA, an expired mesh certificate, a wrong SPIFFE ID for the
// destination; x-forwarded-client-cert set by the proxy only; PERMISSIVE takes both.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import {
  eventually, freePorts, request, startLoad, startUpstream, startZeroTrustMesh, stopChild, tempDir, type ReadyChild, type Upstream, type ZeroTrustMesh,
} from '../helpers/mesh.js';

const run = promisify(execFile);
const TD = 'mtls.test';

/** Runs openssl s_client against 127.0.0.1:port sending `send`; resolves with its stdout+stderr and exit code. */
function sClient(port: number, extra: string[], send: string): Promise<{ out: string; code: number | null }> {
  return new Promise((resolve) => {
    const p = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-quiet', ...extra], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ out, code });
    });
    setTimeout(() => p.stdin.end(send), 300);
  });
}

describe('mTLS between sidecars: SDS secrets, STRICT/PERMISSIVE, SAN checks, XFCC', () => {
  const t = tempDir('tessera-mtls-');
  let apiApp: Upstream;
  let webApp: Upstream;
  let db: net.Server;
  let dbPort = 0;
  let webIn = 0;
  let apiIn = 0;
  let dbIn = 0;
  let toApi = 0;
  let toDb = 0;
  let apiSidecar: ReadyChild;

  let zt: ZeroTrustMesh;

  async function sidecar(node: string, sa: string): Promise<ReadyChild> {
    return zt.proxy(node, sa);
  }

  /** A certificate + key in PEM files: openssl-made, signed by `caCert/caKey` (or self-signed), with a URI SAN. */
  async function opensslCert(name: string, uri: string, ca: { cert: string; key: string } | null, days = 1): Promise<{ cert: string; key: string }> {
    const key = path.join(t.dir, `${name}.key`);
    const cert = path.join(t.dir, `${name}.pem`);
    const ext = path.join(t.dir, `${name}.ext`);
    writeFileSync(ext, `subjectAltName=URI:${uri}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth,serverAuth\n`);
    await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
    const csr = path.join(t.dir, `${name}.csr`);
    await run('openssl', ['req', '-new', '-key', key, '-subj', `/CN=${name}`, '-out', csr]);
    if (ca === null) await run('openssl', ['x509', '-req', '-in', csr, '-signkey', key, '-days', String(days), '-extfile', ext, '-out', cert]);
    else await run('openssl', ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', String(days), '-extfile', ext, '-out', cert]);
    return { cert, key };
  }

  before(async () => {
    apiApp = await startUpstream('api');
    webApp = await startUpstream('web');
    db = net.createServer((s) => s.on('data', (d: Buffer) => s.write(`db:${d.toString()}`)));
    await new Promise<void>((r) => db.listen(0, '127.0.0.1', () => r()));
    dbPort = (db.address() as net.AddressInfo).port;
    [webIn, apiIn, dbIn, toApi, toDb] = await freePorts(5);
    zt = await startZeroTrustMesh(
      t.dir,
      `mesh: { name: mtls, trust_domain: ${TD}, mtls: PERMISSIVE }
services:
  - name: web
    protocol: http
    instances:
      - { id: web-1, address: 127.0.0.1, port: ${webApp.port}, sidecar_port: ${webIn} }
    dependencies:
      - { service: api, port: ${toApi} }
      - { service: tcpdb, port: ${toDb} }
  - name: api
    protocol: http
    mtls: STRICT
    instances:
      - { id: api-1, address: 127.0.0.1, port: ${apiApp.port}, sidecar_port: ${apiIn} }
    authorization:
      action: ALLOW
      rules:
        - from: [{ service: web }]
  - name: tcpdb
    protocol: tcp
    mtls: STRICT
    instances:
      - { id: db-1, address: 127.0.0.1, port: ${dbPort}, sidecar_port: ${dbIn} }
`,
      TD,
    );
    await sidecar('web-1', 'web');
    apiSidecar = await sidecar('api-1', 'api');
    await sidecar('db-1', 'tcpdb');
  });

  after(async () => {
    for (const c of zt.children.reverse()) await stopChild(c);
    await apiApp.close();
    await webApp.close();
    db.close();
    t.cleanup();
  });

  test('web → api over mTLS: the app sees the caller identity in x-forwarded-client-cert, never a client copy', async () => {
    const r = await eventually(async () => {
      const x = await request(`http://127.0.0.1:${toApi}/hello`, { headers: { 'x-forwarded-client-cert': 'By=spiffe://evil;URI=spiffe://mtls.test/ns/default/sa/admin' } });
      return x.status === 200 ? x : null;
    }, 15000);
    const seen = JSON.parse(r.body) as { name: string; headers: Record<string, string> };
    assert.equal(seen.name, 'api');
    const xfcc = seen.headers['x-forwarded-client-cert']!;
    assert.match(xfcc, /^By=spiffe:\/\/mtls\.test\/ns\/default\/sa\/api;Hash=[0-9a-f]{64};Subject="";URI=spiffe:\/\/mtls\.test\/ns\/default\/sa\/web$/);
    assert.doesNotMatch(xfcc, /evil|admin/);
  });

  test('tcp over mTLS: bytes pass web → tcpdb through both sidecars', async () => {
    const got = await eventually(
      () =>
        new Promise<string | null>((resolve) => {
          const s = net.connect(toDb, '127.0.0.1', () => s.write('ping'));
          let buf = '';
          s.on('data', (d: Buffer) => {
            buf += d.toString();
            if (buf.length >= 7) {
              s.destroy();
              resolve(buf);
            }
          });
          s.on('error', () => resolve(null));
          s.on('close', () => resolve(buf === '' ? null : buf));
          setTimeout(() => {
            s.destroy();
            resolve(null);
          }, 2000);
        }),
      15000,
    );
    assert.equal(got, 'db:ping');
  });

  test('STRICT: plaintext to the inbound port is closed before reaching the app', async () => {
    const before = apiApp.requests;
    await assert.rejects(request(`http://127.0.0.1:${apiIn}/direct`));
    assert.equal(apiApp.requests, before);
  });

  test('STRICT: TLS without a client certificate, or with one from another CA, is refused', async () => {
    const before = apiApp.requests;
    const ca = path.join(zt.caDir, 'root-cert.pem');
    const noCert = await sClient(apiIn, ['-CAfile', ca], 'GET / HTTP/1.1\r\nhost: api\r\n\r\n');
    assert.doesNotMatch(noCert.out, /HTTP\/1\.1 200/);
    const foreign = await opensslCert('foreign', `spiffe://${TD}/ns/default/sa/web`, null);
    const other = await sClient(apiIn, ['-CAfile', ca, '-cert', foreign.cert, '-key', foreign.key], 'GET / HTTP/1.1\r\nhost: api\r\n\r\n');
    assert.doesNotMatch(other.out, /HTTP\/1\.1 200/);
    assert.equal(apiApp.requests, before);
  });

  test('STRICT: an expired certificate from the mesh CA is refused; a valid one with the caller identity is served', async () => {
    const ca = { cert: path.join(zt.caDir, 'root-cert.pem'), key: path.join(zt.caDir, 'root-key.pem') };
    // `-days 0`... openssl cannot back-date; a certificate valid for -1 days ends before it starts: expired for OpenSSL.
    const expired = await opensslCert('expired', `spiffe://${TD}/ns/default/sa/web`, ca, -1);
    const r1 = await sClient(apiIn, ['-CAfile', ca.cert, '-cert', expired.cert, '-key', expired.key], 'GET / HTTP/1.1\r\nhost: api\r\n\r\n');
    assert.doesNotMatch(r1.out, /HTTP\/1\.1 200/);
    const good = await opensslCert('good-web', `spiffe://${TD}/ns/default/sa/web`, ca);
    const r2 = await sClient(apiIn, ['-CAfile', ca.cert, '-cert', good.cert, '-key', good.key, '-alpn', 'http/1.1'], 'GET /ok HTTP/1.1\r\nhost: api\r\nconnection: close\r\n\r\n');
    assert.match(r2.out, /HTTP\/1\.1 200/);
    assert.match(r2.out, /Protocol\s*:\s*TLSv1\.3|"name":"api"/);
  });

  test('authorization on identity: a mesh certificate for another service gets 403', async () => {
    const ca = { cert: path.join(zt.caDir, 'root-cert.pem'), key: path.join(zt.caDir, 'root-key.pem') };
    const other = await opensslCert('other-sa', `spiffe://${TD}/ns/default/sa/batch`, ca);
    const r = await sClient(apiIn, ['-CAfile', ca.cert, '-cert', other.cert, '-key', other.key], 'GET /ok HTTP/1.1\r\nhost: api\r\nconnection: close\r\n\r\n');
    assert.match(r.out, /HTTP\/1\.1 403/);
  });

  test('PERMISSIVE: the same inbound port serves plaintext and mTLS', async () => {
    const plain = await request(`http://127.0.0.1:${webIn}/p`);
    assert.equal(plain.status, 200);
    assert.equal(JSON.parse(plain.body).headers['x-forwarded-client-cert'], undefined);
    const ca = { cert: path.join(zt.caDir, 'root-cert.pem'), key: path.join(zt.caDir, 'root-key.pem') };
    const c = await opensslCert('permissive-client', `spiffe://${TD}/ns/default/sa/api`, ca);
    const r = await sClient(webIn, ['-CAfile', ca.cert, '-cert', c.cert, '-key', c.key], 'GET /t HTTP/1.1\r\nhost: web\r\nconnection: close\r\n\r\n');
    assert.match(r.out, /HTTP\/1\.1 200/);
    assert.match(r.out, /URI=spiffe:\/\/mtls\.test\/ns\/default\/sa\/api/);
  });

  test('outbound SAN check: an api sidecar holding another identity is refused by web (503), not trusted for being signed by the CA', async () => {
    await stopChild(apiSidecar);
    zt.children.splice(zt.children.indexOf(apiSidecar), 1);
    const impostor = await sidecar('api-1', 'intruder');
    const r = await eventually(async () => {
      const x = await request(`http://127.0.0.1:${toApi}/who`);
      return x.status === 503 ? x : null;
    }, 15000);
    assert.equal(r.status, 503);
    await stopChild(impostor);
    zt.children.splice(zt.children.indexOf(impostor), 1);
    apiSidecar = await sidecar('api-1', 'api');
    const back = await eventually(async () => {
      const x = await request(`http://127.0.0.1:${toApi}/again`);
      return x.status === 200 ? x : null;
    }, 15000);
    assert.equal(back.status, 200);
  });

  test('steady load over mTLS: no failed request', async () => {
    const load = startLoad(`http://127.0.0.1:${toApi}/load`, { concurrency: 4, maxMs: 2000, maxRequests: 2000 });
    await new Promise((r) => setTimeout(r, 2100));
    const res = await load.stop();
    assert.ok(res.ok > 50, `only ${res.ok} requests`);
    assert.equal(res.failed, 0, res.errors.join('; '));
  });
});
