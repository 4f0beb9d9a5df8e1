// Secret resources over ADS like EDS/RDS named subscriptions: a client gets exactly the secrets it names, a change
// to a secret it did not name pushes nothing, and the translator's ROOTCA and gateway certificates serve as they are.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { compileNode, type CaView } from '../../../../control-plane/compile/index.js';
import { loadMeshConfig, type World } from '../../../../control-plane/model/index.js';
import { unpackAny } from '../../../../src/xds/protos.js';
import { TypeUrl } from '../../../../src/xds/type-urls.js';
import { fixture } from '../model/fixtures.js';
import { startServer } from './fixtures.js';

const SDS = TypeUrl.Secret;
type Env = Awaited<ReturnType<typeof startServer>>;

const ca = (pem: string): CaView => ({ trustDomain: 'zero-trust.test', trustBundlePem: pem });

function secrets(resources: readonly { type_url: string; value: Buffer }[]): Record<string, unknown>[] {
  return resources.map((a) => {
    assert.equal(a.type_url, SDS);
    return unpackAny(a);
  });
}

describe('XdsServer: SDS Secret resources', () => {
  let env: Env;
  let world: World;
  let root: string;
  before(async () => {
    env = await startServer();
    const r = await loadMeshConfig(fixture('zero-trust.yaml'));
    if (!r.ok) assert.fail(r.errors.join('\n'));
    world = r.value;
    root = await readFile(fixture('zero-trust/root-ca.pem'), 'utf8');
    assert.deepEqual(env.cache.set('edge', compileNode(world, 'edge', ca(root))), []);
  });
  after(async () => {
    await env.stop();
  });

  it('SotW: a named subscription gets only those secrets; other secrets changing pushes nothing; its own change does', async () => {
    const s = env.client.sotw('edge');
    s.request(SDS, ['edge/shop.example.com']);
    const r1 = await s.next();
    const [cert] = secrets(r1.resources) as Array<{ name: string; tls_certificate: { certificate_chain: { inline_string: string } } }>;
    assert.equal(r1.resources.length, 1);
    assert.equal(cert!.name, 'edge/shop.example.com');
    assert.equal(cert!.tls_certificate.certificate_chain.inline_string, await readFile(fixture('zero-trust/shop.pem'), 'utf8'));
    s.ack(r1, ['edge/shop.example.com']);
    // A new trust bundle changes ROOTCA only: not subscribed here.
    assert.deepEqual(env.cache.set('edge', compileNode(world, 'edge', ca(root + root))), []);
    await s.expectNone();
    // Subscribing ROOTCA too sends both.
    s.request(SDS, ['ROOTCA', 'edge/shop.example.com'], { version: r1.version_info, nonce: r1.nonce });
    const r2 = await s.next();
    assert.deepEqual(secrets(r2.resources).map((x) => x.name).sort(), ['ROOTCA', 'edge/shop.example.com']);
    const rootca = secrets(r2.resources).find((x) => x.name === 'ROOTCA') as { validation_context: { trusted_ca: { inline_string: string } } };
    assert.equal(rootca.validation_context.trusted_ca.inline_string, root + root);
    s.ack(r2, ['ROOTCA', 'edge/shop.example.com']);
    assert.deepEqual(env.cache.set('edge', compileNode(world, 'edge', ca(root))), []);
    const r3 = await s.next();
    assert.equal(r3.resources.length, 2, 'SotW sends every subscribed resource of the type');
    s.end();
    await s.done;
  });

  it('delta: subscribe by name, versions per secret, only the changed one is resent, unsubscribe', async () => {
    const d = env.client.delta('edge');
    d.request(SDS, { subscribe: ['ROOTCA', 'edge/api.example.com', 'missing'] });
    const r1 = await d.next();
    assert.deepEqual(r1.resources.map((r) => r.name).sort(), ['ROOTCA', 'edge/api.example.com']);
    assert.deepEqual(r1.removed_resources, ['missing']);
    d.ack(r1);
    assert.deepEqual(env.cache.set('edge', compileNode(world, 'edge', ca(`${root}\n`))), []);
    const r2 = await d.next();
    assert.deepEqual(r2.resources.map((r) => r.name), ['ROOTCA']);
    d.ack(r2);
    d.request(SDS, { unsubscribe: ['ROOTCA'] });
    await d.expectNone();
    assert.deepEqual(env.cache.set('edge', compileNode(world, 'edge', ca(root))), []);
    await d.expectNone();
    d.end();
    await d.done;
  });
});
