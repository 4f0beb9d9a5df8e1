// Certificate rotation under steady load with real processes: workload certificates with a 60 s lifetime renew
// at half life (new key, new serial), and the mesh root is rotated (prepare: bundle old+new, activate: new leaves
// from the new root, finish: bundle new only) while web → api traffic runs over mTLS. Zero failed requests.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  eventually, freePorts, request, startLoad, startUpstream, startZeroTrustMesh, stopChild, tempDir, type Upstream, type ZeroTrustMesh,
} from '../helpers/mesh.js';

const TD = 'rotate.test';

interface CertsView {
  certificates: { cert_chain_pem: string; serial_number?: string; seconds_until_expiration: number }[];
}

function post(port: number, p: string, body: object): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port, path: p, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': data.length } }, (res) => {
      let b = '';
      res.on('data', (c: Buffer) => (b += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

describe('rotation under load: leaf renewal and a root rotation with zero failed requests', () => {
  const t = tempDir('tessera-rot-');
  const caDir = path.join(t.dir, 'ca');
  let zt: ZeroTrustMesh;
  let apiApp: Upstream;
  let webApp: Upstream;
  let cpAdmin = 0;
  let toApi = 0;
  const admins: Record<string, number> = {};

  async function leaf(node: string): Promise<X509Certificate> {
    const r = await request(`http://127.0.0.1:${admins[node]}/certs`);
    const v = JSON.parse(r.body) as CertsView;
    return new X509Certificate(v.certificates[0]!.cert_chain_pem);
  }

  before(async () => {
    apiApp = await startUpstream('api');
    webApp = await startUpstream('web');
    const [webIn, apiIn, port] = await freePorts(3);
    toApi = port!;
    zt = await startZeroTrustMesh(
      t.dir,
      `mesh: { name: rot, trust_domain: ${TD}, mtls: STRICT }
services:
  - name: web
    protocol: http
    instances:
      - { id: web-1, address: 127.0.0.1, port: ${webApp.port}, sidecar_port: ${webIn} }
    dependencies:
      - { service: api, port: ${toApi} }
  - name: api
    protocol: http
    instances:
      - { id: api-1, address: 127.0.0.1, port: ${apiApp.port}, sidecar_port: ${apiIn} }
`,
      TD,
    );
    cpAdmin = Number(zt.cp.ready.admin_port);
    for (const [node, sa] of [['web-1', 'web'], ['api-1', 'api']] as const) {
      const [admin] = await freePorts(1);
      admins[node] = admin!;
      await zt.proxy(node, sa, { adminPort: admin!, extra: ['--cert-ttl', '60'] });
    }
    await eventually(async () => (await request(`http://127.0.0.1:${toApi}/warm`)).status === 200, 15000);
  });

  after(async () => {
    for (const c of zt.children.reverse()) await stopChild(c);
    await apiApp.close();
    await webApp.close();
    t.cleanup();
  });

  test('leaves renew (new key and serial) and the root rotates while 4 loops call web → api: nothing fails', async () => {
    const first = { web: await leaf('web-1'), api: await leaf('api-1') };
    const load = startLoad(`http://127.0.0.1:${toApi}/steady`, { concurrency: 4, maxMs: 70_000, maxRequests: 400_000 });
    try {
      const prep = await post(cpAdmin, '/ca/rotate/prepare', {});
      assert.equal(prep.status, 200, prep.body);
      const act = await post(cpAdmin, '/ca/rotate/activate', {});
      assert.equal(act.status, 200, act.body);
      // Each sidecar renews at half its remaining life (~30 s): both then hold a leaf from the new root.
      const renewed = await eventually(
        async () => {
          const w = await leaf('web-1');
          const a = await leaf('api-1');
          return w.serialNumber !== first.web.serialNumber && a.serialNumber !== first.api.serialNumber && w.issuer === a.issuer ? { w, a } : null;
        },
        50_000,
        500,
      );
      assert.equal(renewed.w.publicKey.export({ format: 'der', type: 'spki' }).equals(first.web.publicKey.export({ format: 'der', type: 'spki' })), false, 'a renewal uses a new key');
      // Old leaves (60 s) may still be valid per the CA's bookkeeping: both sidecars visibly renewed, so force.
      const fin = await post(cpAdmin, '/ca/rotate/finish', { force: true });
      assert.equal(fin.status, 200, fin.body);
      // The bundle now holds the new root only: the renewed leaves chain to it, the first ones do not.
      const bundle = readFileSync(path.join(caDir, 'trust-bundle.pem'), 'utf8').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)!;
      assert.equal(bundle.length, 1);
      const newRoot = new X509Certificate(bundle[0]!);
      assert.ok(renewed.w.verify(newRoot.publicKey) && renewed.a.verify(newRoot.publicKey));
      assert.equal(first.web.verify(newRoot.publicKey), false);
      await new Promise((r) => setTimeout(r, 2000));
      const after = await request(`http://127.0.0.1:${toApi}/after-finish`, { headers: { connection: 'close' } });
      assert.equal(after.status, 200);
    } finally {
      const res = await load.stop();
      assert.ok(res.ok > 200, `only ${res.ok} requests went through`);
      assert.equal(res.failed, 0, res.errors.join('; '));
    }
  });
});
