// Zero trust, first leg, with real processes: a control plane in CA mode serves xDS over TLS only to sidecars
// presenting a bootstrap token for their own node, and signs their workload certificates. Tokens come from the
// real `tessera token` command; what the sidecar holds is read back from its admin /certs and checked with openssl.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import {
  BIN, eventually, freePorts, request, startTessera, startUpstream, stopChild, tempDir, type ReadyChild, type Upstream,
} from '../helpers/mesh.js';

const run = promisify(execFile);
const TD = 'mesh.test';
const CP_ID = `spiffe://${TD}/ns/tessera-system/sa/control-plane`;

describe('zero trust: CA mode control plane, bootstrap tokens, workload certificates', () => {
  const t = tempDir('tessera-zt-');
  const caDir = path.join(t.dir, 'ca');
  const children: ReadyChild[] = [];
  let cp: ReadyChild;
  let app: Upstream;
  let xdsPort = 0;
  let cpAdmin = 0;
  let sidecarPort = 0;

  async function token(node: string, ns: string, sa: string, dir = caDir): Promise<string> {
    const { stdout } = await run(process.execPath, [BIN, 'token', '--ca-dir', dir, '--node', node, '--namespace', ns, '--service-account', sa]);
    const file = path.join(t.dir, `${node}-${sa}-${Math.random().toString(36).slice(2)}.token`);
    writeFileSync(file, stdout);
    return file;
  }

  async function sidecar(name: string, node: string, tokenFile: string | null, san = CP_ID, wait = true): Promise<{ child: ReadyChild; admin: number }> {
    const [admin] = await freePorts(1);
    const args = ['sidecar', '--node-id', node, '--xds', `127.0.0.1:${xdsPort}`, '--admin-port', String(admin), '--xds-ca', path.join(caDir, 'root-cert.pem'), '--xds-san', san, '--access-log', 'off'];
    if (tokenFile !== null) args.push('--token-file', tokenFile);
    if (!wait) args.push('--no-wait');
    const child = await startTessera(args, { dir: t.dir, name });
    children.push(child);
    return { child, admin: admin! };
  }

  before(async () => {
    app = await startUpstream('api');
    [sidecarPort] = await freePorts(1);
    writeFileSync(path.join(t.dir, 'mesh.yaml'), `mesh: { name: zt }
services:
  - name: api
    protocol: http
    instances:
      - { id: api-1, address: 127.0.0.1, port: ${app.port}, sidecar_port: ${sidecarPort} }
`);
    cp = await startTessera(['control-plane', '--config', path.join(t.dir, 'mesh.yaml'), '--xds-port', '0', '--admin-port', '0', '--trust-domain', TD, '--ca-dir', caDir], { dir: t.dir, name: 'cp' });
    children.push(cp);
    xdsPort = Number(cp.ready.xds_port);
    cpAdmin = Number(cp.ready.admin_port);
    assert.equal(cp.ready.control_plane_id, CP_ID);
  });

  after(async () => {
    for (const c of children.reverse()) await stopChild(c);
    await app.close();
    t.cleanup();
  });

  test('the CA root and keys are on disk, keys 0600', () => {
    assert.equal(statSync(path.join(caDir, 'root-key.pem')).mode & 0o777, 0o600);
    assert.equal(statSync(path.join(caDir, 'token-key')).mode & 0o777, 0o600);
    assert.match(readFileSync(path.join(caDir, 'root-cert.pem'), 'utf8'), /BEGIN CERTIFICATE/);
  });

  test('a sidecar with its token gets config over TLS and a SPIFFE certificate for the token\'s identity', async () => {
    const s = await sidecar('good', 'api-1', await token('api-1', 'shop', 'api'));
    const r = await eventually(async () => {
      const x = await request(`http://127.0.0.1:${sidecarPort}/hello`);
      return x.status === 200 ? x : null;
    });
    assert.equal(JSON.parse(r.body).name, 'api');
    const certs = JSON.parse((await request(`http://127.0.0.1:${s.admin}/certs`)).body);
    const leaf = certs.certificates[0];
    assert.equal(leaf.spiffe_id, `spiffe://${TD}/ns/shop/sa/api`);
    assert.ok(leaf.seconds_until_expiration > 23 * 3600 && leaf.seconds_until_expiration <= 24 * 3600 + 60);
    assert.ok(!JSON.stringify(certs).includes('PRIVATE KEY'), 'the admin API never shows the key');
    const leafFile = path.join(t.dir, 'leaf.pem');
    writeFileSync(leafFile, leaf.cert_chain_pem);
    const { stdout } = await run('openssl', ['verify', '-CAfile', path.join(caDir, 'root-cert.pem'), leafFile]);
    assert.match(stdout, /OK/);
    const text = (await run('openssl', ['x509', '-in', leafFile, '-noout', '-text'])).stdout;
    assert.match(text, /URI:spiffe:\/\/mesh\.test\/ns\/shop\/sa\/api/);
  });

  test('a wrong, foreign or missing token, or a token for another node, gets nothing', async () => {
    const foreignDir = path.join(t.dir, 'other-ca');
    const cases: [string, string | null][] = [
      ['foreign', await token('api-1', 'shop', 'api', foreignDir)],
      ['missing', null],
      ['other-node', await token('web-1', 'shop', 'web')],
    ];
    const bad = path.join(t.dir, 'garbage.token');
    writeFileSync(bad, 'not.a.token');
    cases.push(['garbage', bad]);
    for (const [name, file] of cases) {
      const s = await sidecar(`bad-${name}`, 'api-1', file, CP_ID, false);
      await new Promise((r) => setTimeout(r, 1500));
      const dump = JSON.parse((await request(`http://127.0.0.1:${s.admin}/config_dump`)).body);
      assert.deepEqual(dump.listeners, [], `${name}: no listeners`);
      assert.deepEqual(dump.clusters, [], `${name}: no clusters`);
      const certs = JSON.parse((await request(`http://127.0.0.1:${s.admin}/certs`)).body);
      // A valid token for web-1 yields web's identity, never api's: the certificate follows the token.
      if (name === 'other-node') assert.equal(certs.certificates[0]?.spiffe_id, `spiffe://${TD}/ns/shop/sa/web`);
      else assert.deepEqual(certs.certificates, [], `${name}: no certificate`);
      // The CA refuses the certificate request (with a token), and the xDS stream is refused (code 16, or 7 for another node's token).
      if (file !== null) assert.ok(s.child.lines.some((l) => /certificate request failed: (UNAUTHENTICATED|INVALID_ARGUMENT)/.test(l)) || name === 'other-node', `${name}: CA refused (${s.child.lines.slice(-3).join(' | ')})`);
      assert.ok(s.child.lines.some((l) => /"err_code":(16|7),/.test(l) && l.includes('xDS stream closed')), `${name}: xDS refused`);
      await stopChild(s.child);
    }
    const stats = (await request(`http://127.0.0.1:${cpAdmin}/stats`)).body;
    const refused = Number(/xds\.unauthenticated_stream_total: (\d+)/.exec(stats)?.[1] ?? '0');
    assert.ok(refused >= 3, `unauthenticated streams counted (${refused})`);
    assert.ok(cp.lines.some((l) => l.includes('TESSERA_ERR_XDS_PERMISSION_DENIED') && l.includes('web-1')), 'the other node\'s token was refused for api-1');
  });

  test('a sidecar expecting another control-plane identity refuses the server', async () => {
    const s = await sidecar('wrong-san', 'api-1', await token('api-1', 'shop', 'api'), `spiffe://${TD}/ns/evil/sa/cp`, false);
    await new Promise((r) => setTimeout(r, 1500));
    const dump = JSON.parse((await request(`http://127.0.0.1:${s.admin}/config_dump`)).body);
    assert.deepEqual(dump.listeners, []);
    assert.ok(s.child.lines.some((l) => l.includes('certificate request failed') && l.includes('UNAVAILABLE')), s.child.lines.slice(-3).join(' | '));
    await stopChild(s.child);
  });
});
