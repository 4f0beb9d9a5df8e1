// The control plane in zero-trust mode, over real sockets: the CA starts from mesh.trust_domain, sidecars get ROOTCA
// over ADS (SotW and delta, by name, through TLS with a bootstrap token), each rotation step — driven by the admin
// API and by `tessera ca rotate` — pushes the new bundle to every stream at once; the admin API's guards; trust
// domain agreement at start and on edits; certificate files watched; and the degraded mode without a CA.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { ControlPlane } from '../../../control-plane/control-plane.js';
import { ConfigError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { issueToken, loadOrCreateTokenKey } from '../../../src/tls/bootstrap-token.js';
import { certInfo, splitPemCertificates } from '../../../src/tls/x509.js';
import { adsServiceDefinition, type DiscoveryResponse, type DeltaDiscoveryResponse } from '../../../src/xds/ads-service.js';
import { unpackAny } from '../../../src/xds/protos.js';
import { TypeUrl } from '../../../src/xds/type-urls.js';
import { DeltaTestStream, SotwTestStream } from '../../helpers/ads-test-client.js';
import { fixture } from './model/fixtures.js';

const SDS = TypeUrl.Secret;
const MAIN_JS = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));

const MESH = `mesh: { name: zt, trust_domain: mesh.test }
services:
  - name: web
    protocol: http
    instances: [{ id: web-1, address: 127.0.0.1, port: 9001, sidecar_port: 15001 }]
    dependencies: [{ service: catalog, port: 15101 }]
  - name: catalog
    protocol: http
    mtls: STRICT
    instances: [{ id: catalog-1, address: 127.0.0.1, port: 9011, sidecar_port: 15011 }]
    authorization: { rules: [{ from: [{ service: web }] }] }
gateways:
  - name: edge
    listen: 127.0.0.1:18443
    tls: { hosts: [{ hosts: [shop.example.com], cert_file: shop.pem, key_file: shop-key.pem }] }
    routes: [{ destinations: [{ service: web }] }]
`;

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function meshDir(text: string): Promise<{ dir: string; config: string; caDir: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tessera-cpzt-'));
  dirs.push(dir);
  for (const f of ['shop.pem', 'shop-key.pem', 'api.pem', 'api-key.pem']) await copyFile(fixture(`zero-trust/${f}`), path.join(dir, f));
  const config = path.join(dir, 'mesh.yaml');
  await writeFile(config, text);
  return { dir, config, caDir: path.join(dir, 'ca') };
}

type AdsClient = grpc.Client & {
  StreamAggregatedResources(md: grpc.Metadata): grpc.ClientDuplexStream<never, DiscoveryResponse>;
  DeltaAggregatedResources(md: grpc.Metadata): grpc.ClientDuplexStream<never, DeltaDiscoveryResponse>;
};

/** An ADS client the way a zero-trust sidecar connects: TLS to the control plane's root, a bootstrap token per call. */
async function sidecarClient(cp: ControlPlane, caDir: string, node: string, sa: string): Promise<{ sotw(): SotwTestStream; delta(): DeltaTestStream; close(): void }> {
  const token = await issueToken(await loadOrCreateTokenKey(caDir), { nodeId: node, namespace: 'default', serviceAccount: sa });
  const creds = grpc.credentials.createSsl(Buffer.from(cp.security!.ca.trustBundle.join('')), null, null, { checkServerIdentity: () => undefined });
  const Ctor = grpc.makeGenericClientConstructor(adsServiceDefinition(), 'AggregatedDiscoveryService');
  const client = new Ctor(`127.0.0.1:${cp.xdsPort}`, creds) as unknown as AdsClient;
  const md = (): grpc.Metadata => {
    const m = new grpc.Metadata();
    m.set('authorization', `Bearer ${token}`);
    return m;
  };
  return {
    sotw: () => new SotwTestStream(client.StreamAggregatedResources(md()) as never, { id: node }),
    delta: () => new DeltaTestStream(client.DeltaAggregatedResources(md()) as never, { id: node }),
    close: () => client.close(),
  };
}

/** The certificates of the ROOTCA secret in a response's resources. */
function rootCa(resources: readonly { type_url: string; value: Buffer }[]): string[] {
  assert.equal(resources.length, 1);
  const secret = unpackAny(resources[0]!) as { name: string; validation_context: { trusted_ca: { inline_string: string } } };
  assert.equal(secret.name, 'ROOTCA');
  return splitPemCertificates(secret.validation_context.trusted_ca.inline_string);
}

function admin(port: number, method: string, urlPath: string, opts: { body?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, headers: opts.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const post = (port: number, step: string, body = '{}'): ReturnType<typeof admin> =>
  admin(port, 'POST', `/ca/rotate/${step}`, { body, headers: { 'content-type': 'application/json' } });

async function waitFor(what: string, check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('ControlPlane in zero-trust mode', () => {
  let cp: ControlPlane;
  let env: Awaited<ReturnType<typeof meshDir>>;
  before(async () => {
    env = await meshDir(MESH);
    cp = new ControlPlane({ configPath: env.config, host: '127.0.0.1', xdsPort: 0, adminPort: 0, logger: silentLogger(), security: { dir: env.caDir } });
    await cp.start();
  });
  after(async () => {
    await cp.close();
  });

  it('mesh.trust_domain alone starts the CA; sidecars subscribe ROOTCA by name (SotW and delta) and every rotation step reaches both at once', async () => {
    assert.equal(cp.security?.trustDomain, 'mesh.test');
    assert.equal(cp.info().trust_domain, 'mesh.test');
    const web = await sidecarClient(cp, env.caDir, 'web-1', 'web');
    const catalog = await sidecarClient(cp, env.caDir, 'catalog-1', 'catalog');
    const s = web.sotw();
    const d = catalog.delta();
    try {
      s.request(SDS, ['ROOTCA']);
      const first = await s.next();
      assert.equal(first.type_url, SDS);
      const root0 = cp.security!.ca.trustBundle[0]!;
      assert.deepEqual(rootCa(first.resources), [root0]);
      s.ack(first, ['ROOTCA']);
      d.request(SDS, { subscribe: ['ROOTCA'] });
      const dfirst = await d.next();
      assert.deepEqual(dfirst.resources.map((r) => r.name), ['ROOTCA']);
      assert.deepEqual(rootCa(dfirst.resources.map((r) => r.resource)), [root0]);
      d.ack(dfirst);
      await s.expectNone();
      await d.expectNone();

      // prepare, through the CLI: both streams get old + new.
      const { stdout } = await promisify(execFile)(process.execPath, [MAIN_JS, 'ca', 'rotate', 'prepare', '--admin', `127.0.0.1:${cp.adminPort}`]);
      assert.equal((JSON.parse(stdout) as { phase: string }).phase, 'prepared');
      const s1 = await s.next();
      const d1 = await d.next();
      const [, root1] = cp.security!.ca.trustBundle;
      assert.deepEqual(rootCa(s1.resources), [root0, root1]);
      assert.deepEqual(rootCa(d1.resources.map((r) => r.resource)), [root0, root1]);
      assert.notEqual(d1.resources[0]!.version, dfirst.resources[0]!.version);
      s.ack(s1, ['ROOTCA']);
      d.ack(d1);

      // activate and finish through the admin API.
      const act = await post(cp.adminPort, 'activate');
      assert.equal(act.status, 200);
      assert.deepEqual(rootCa((await s.next()).resources), [root1, root0]);
      assert.deepEqual(rootCa((await d.next()).resources.map((r) => r.resource)), [root1, root0]);
      // This control plane issued its own serving certificate with the old root: finish needs force.
      const refused = await post(cp.adminPort, 'finish');
      assert.equal(refused.status, 409);
      assert.match(String(refused.body.error), /leaves signed by the previous root are valid until/);
      assert.equal(refused.body.phase, 'activated');
      const fin = await post(cp.adminPort, 'finish', '{"force": true}');
      assert.equal(fin.status, 200);
      assert.equal(fin.body.phase, 'idle');
      const s3 = await s.next();
      assert.deepEqual(rootCa(s3.resources), [root1]);
      assert.deepEqual(rootCa((await d.next()).resources.map((r) => r.resource)), [root1]);
      assert.equal(certInfo(root1!).uris[0], 'spiffe://mesh.test');
      const status = await admin(cp.adminPort, 'GET', '/ca');
      assert.equal(status.body.phase, 'idle');
      assert.equal((status.body.roots as unknown[]).length, 1);
    } finally {
      s.end();
      d.end();
      web.close();
      catalog.close();
    }
  });

  it('the gateway gets ROOTCA and its certificate secret; a cert file rewritten on disk is pushed without a config edit', async () => {
    const snap = (): Map<string, string> => new Map([...cp.cache.get('edge')!.resources(SDS)].map(([n, r]) => [n, r.version]));
    const before = snap();
    assert.deepEqual([...before.keys()], ['ROOTCA', 'edge/shop.example.com']);
    // New bytes for the same certificate (a trailing newline) are new content: the secret is rebuilt and pushed.
    const pem = await readFile(fixture('zero-trust/shop.pem'), 'utf8');
    await writeFile(path.join(env.dir, 'shop.pem'), `${pem}\n`);
    await waitFor('the new certificate secret', () => snap().get('edge/shop.example.com') !== before.get('edge/shop.example.com'));
    assert.equal(snap().get('ROOTCA'), before.get('ROOTCA'));
  });

  it('a token naming another identity than the mesh gives the node is counted (the stream is still served)', async () => {
    const c = await sidecarClient(cp, env.caDir, 'web-1', 'not-web');
    const s = c.sotw();
    try {
      s.request(SDS, ['ROOTCA']);
      await s.next();
      assert.equal(cp.stats.snapshot('control_plane.')['control_plane.identity_mismatch_total'], 1);
    } finally {
      s.end();
      c.close();
    }
  });

  it('an edit that changes the trust domain is rejected; the CA keeps serving', async () => {
    const applied = cp.info().config_version;
    await writeFile(env.config, MESH.replace('trust_domain: mesh.test', 'trust_domain: other.test'));
    await waitFor('the rejection', () => (cp.info().last_rejected_config_errors as string[]).length > 0);
    assert.match((cp.info().last_rejected_config_errors as string[])[0]!, /mesh\.yaml:1:33: mesh\.trust_domain: is 'other\.test' but the control plane's CA serves trust domain 'mesh\.test'/);
    assert.equal(cp.info().config_version, applied);
    await writeFile(env.config, MESH);
  });

  it('admin guards: POST only, JSON only, loopback Host only, known steps, phase errors as 409', async () => {
    const p = cp.adminPort;
    assert.equal((await admin(p, 'GET', '/ca/rotate/prepare')).status, 405);
    assert.equal((await admin(p, 'POST', '/ca/rotate/prepare', { body: 'x=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status, 415);
    assert.equal((await admin(p, 'POST', '/ca/rotate/prepare', { body: '{}', headers: { 'content-type': 'application/json', host: 'evil.example:80' } })).status, 403);
    assert.equal((await admin(p, 'POST', '/ca/rotate/rollback', { body: '{}', headers: { 'content-type': 'application/json' } })).status, 404);
    assert.equal((await post(p, 'prepare', '{"force": "yes"}')).status, 400);
    assert.equal((await post(p, 'prepare', 'not json')).status, 400);
    const wrong = await post(p, 'activate');
    assert.equal(wrong.status, 409);
    assert.match(String(wrong.body.error), /cannot activate: the rotation is not started/);
    // The CLI reports a refusal on stderr with exit 1.
    const cli = await promisify(execFile)(process.execPath, [MAIN_JS, 'ca', 'rotate', 'finish', '--admin', `127.0.0.1:${p}`]).catch((e: { code: number; stderr: string }) => e);
    assert.equal((cli as { code: number }).code, 1);
    assert.match((cli as { stderr: string }).stderr, /^tessera ca: 409: cannot finish: the rotation is not started/);
    const usage = await promisify(execFile)(process.execPath, [MAIN_JS, 'ca', 'rotate', 'sideways', '--admin', `127.0.0.1:${p}`]).catch((e: { code: number }) => e);
    assert.equal((usage as { code: number }).code, 2);
  });
});

describe('ControlPlane trust domain and the no-CA mode', () => {
  it('--trust-domain must agree with mesh.trust_domain (error with its position)', async () => {
    const env = await meshDir(MESH);
    const cp = new ControlPlane({ configPath: env.config, host: '127.0.0.1', xdsPort: 0, adminPort: null, logger: silentLogger(), security: { dir: env.caDir, trustDomain: 'other.test' } });
    await assert.rejects(cp.start(), (e: Error) => e instanceof ConfigError && /mesh\.yaml:1:33: mesh\.trust_domain: is 'mesh\.test' but the control plane's CA serves trust domain 'other\.test'/.test(e.message));
    await cp.close();
  });

  it('without a trust domain: no CA, no ROOTCA, plaintext inbound; STRICT and identity rules are warned about once; /ca is 404', async () => {
    const env = await meshDir(MESH.replace('mesh: { name: zt, trust_domain: mesh.test }', 'mesh: { name: zt }'));
    const cp = new ControlPlane({ configPath: env.config, host: '127.0.0.1', xdsPort: 0, adminPort: 0, logger: silentLogger(), security: { dir: env.caDir } });
    await cp.start();
    try {
      assert.equal(cp.security, null);
      assert.deepEqual([...cp.cache.get('catalog-1')!.resources(SDS).keys()], []);
      assert.deepEqual([...cp.cache.get('edge')!.resources(SDS).keys()], ['edge/shop.example.com']);
      const l = unpackAny(cp.cache.get('catalog-1')!.resources(TypeUrl.Listener).get('inbound|15011')!.any) as { filter_chains: Array<Record<string, unknown>> };
      assert.equal(l.filter_chains[0]!.transport_socket, undefined);
      // strict-without-ca, identity-rules-without-ca, gateway-keys-without-ca
      assert.equal(cp.stats.snapshot('control_plane.')['control_plane.degraded_without_ca_total'], 3);
      assert.equal((await admin(cp.adminPort, 'GET', '/ca')).status, 404);
      assert.equal((await post(cp.adminPort, 'prepare')).status, 404);
      // Adding a trust domain later needs a restart.
      await writeFile(env.config, MESH);
      await waitFor('the rejection', () => (cp.info().last_rejected_config_errors as string[]).length > 0);
      assert.match((cp.info().last_rejected_config_errors as string[])[0]!, /mesh\.trust_domain: 'mesh\.test' needs the mesh CA, and this control plane started without one/);
    } finally {
      await cp.close();
    }
  });
});
