// Trust-bundle rotation of the generated root, on a real CA in a temp dir: each step's bundle and signing root,
// old leaves verified by openssl against the bundle while they should be, restarts mid-rotation, interrupted
// steps, and the refusals (wrong phase, unsafe finish, a user-provided CA).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CaRotationError, CertificateAuthority } from '../../../../control-plane/ca/ca.js';
import { certInfo, createCsr, generateKeyPair, privateKeyPem } from '../../../../src/tls/x509.js';
import { handshake, tempDirs } from './helpers.js';

const tmp = tempDirs('tessera-rot-');

const TD = 'mesh.test';
const ID = 'spiffe://mesh.test/ns/shop/sa/web';
const load = (dir: string): Promise<CertificateAuthority> => CertificateAuthority.load({ kind: 'self-signed', dir, trustDomain: TD });

async function leaf(ca: CertificateAuthority, ttl = 3600): Promise<string> {
  const issued = await ca.sign(await createCsr(await generateKeyPair(), ID), ID, ttl);
  return issued.certChain[0]!;
}

async function svid(ca: CertificateAuthority, id: string): Promise<{ key: string; chain: string[] }> {
  const keys = await generateKeyPair();
  const issued = await ca.sign(await createCsr(keys, id), id, 3600);
  return { key: await privateKeyPem(keys.privateKey), chain: [...issued.certChain] };
}

/** openssl verify of `leafPem` against `bundle`: true when it chains to one of its roots. */
function verifies(bundle: readonly string[], leafPem: string): boolean {
  const d = tmp();
  writeFileSync(path.join(d, 'bundle.pem'), bundle.join(''));
  writeFileSync(path.join(d, 'leaf.pem'), leafPem);
  try {
    execFileSync('openssl', ['verify', '-CAfile', path.join(d, 'bundle.pem'), path.join(d, 'leaf.pem')], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/** The root (of `roots`) that signed `leafPem`, by openssl verify against each root alone. */
function signer(roots: readonly string[], leafPem: string): number {
  return roots.findIndex((r) => verifies([r], leafPem));
}

const fp = (pem: string): string => certInfo(pem).fingerprint256;

describe('CertificateAuthority: trust-bundle rotation', () => {
  it('prepare → activate → finish: bundle, signing root, and which leaves still verify at each step', async () => {
    const dir = tmp();
    const ca = await load(dir);
    const changes: string[][] = [];
    ca.onBundleChange(() => changes.push(ca.trustBundle.map(fp)));
    const [oldRoot] = ca.trustBundle;
    assert.equal(ca.phase, 'idle');
    assert.equal(readFileSync(path.join(dir, 'trust-bundle.pem'), 'utf8'), oldRoot);
    const oldLeaf = await leaf(ca);

    // prepare: old + new trusted, the old root still signs.
    let st = await ca.rotate('prepare');
    assert.equal(st.phase, 'prepared');
    const newRoot = ca.trustBundle[1]!;
    assert.deepEqual(ca.trustBundle, [oldRoot, newRoot]);
    assert.notEqual(fp(newRoot), fp(oldRoot!));
    assert.deepEqual(st.roots.map((r) => r.signing), [true, false]);
    assert.equal(readFileSync(path.join(dir, 'trust-bundle.pem'), 'utf8'), oldRoot! + newRoot);
    assert.equal(statSync(path.join(dir, 'next-root-key.pem')).mode & 0o777, 0o600);
    const prepLeaf = await leaf(ca);
    assert.equal(signer([oldRoot!, newRoot], prepLeaf), 0, 'prepared: the old root signs');
    assert.ok(verifies(ca.trustBundle, oldLeaf));
    assert.match(execFileSync('openssl', ['x509', '-noout', '-text'], { input: newRoot, encoding: 'utf8' }), /CA:TRUE[\s\S]*URI:spiffe:\/\/mesh\.test/);

    // activate: the new root signs, both still trusted (the signing root first).
    st = await ca.rotate('activate');
    assert.equal(st.phase, 'activated');
    assert.deepEqual(ca.trustBundle, [newRoot, oldRoot]);
    const actLeaf = await leaf(ca);
    assert.equal(signer([oldRoot!, newRoot], actLeaf), 1, 'activated: the new root signs');
    assert.ok(verifies(ca.trustBundle, oldLeaf), 'a leaf of the old root still verifies');
    assert.ok(verifies(ca.trustBundle, actLeaf));
    assert.ok(!existsSync(path.join(dir, 'next-root-key.pem')));
    assert.equal(readFileSync(path.join(dir, 'previous-root-cert.pem'), 'utf8'), oldRoot);
    assert.equal(readFileSync(path.join(dir, 'root-cert.pem'), 'utf8'), newRoot);
    assert.ok(st.previousRootLeavesValidUntil !== null);

    // finish: refused while old-root leaves are valid, then forced; only the new root remains.
    await assert.rejects(ca.rotate('finish'), (e: Error) => e instanceof CaRotationError && /leaves signed by the previous root are valid until/.test(e.message));
    st = await ca.rotate('finish', { force: true });
    assert.equal(st.phase, 'idle');
    assert.deepEqual(ca.trustBundle, [newRoot]);
    assert.ok(!verifies(ca.trustBundle, oldLeaf), 'after finish the old leaf no longer verifies');
    assert.ok(!verifies(ca.trustBundle, prepLeaf));
    assert.ok(verifies(ca.trustBundle, actLeaf));
    assert.ok(!existsSync(path.join(dir, 'previous-root-cert.pem')));
    assert.equal(readFileSync(path.join(dir, 'trust-bundle.pem'), 'utf8'), newRoot);

    // Every step told the listeners, with the bundle of that step.
    assert.deepEqual(changes, [[fp(oldRoot!), fp(newRoot)], [fp(newRoot), fp(oldRoot!)], [fp(newRoot)]]);
    // The issued leaves carry the bundle of their time.
    const issued = await ca.sign(await createCsr(await generateKeyPair(), ID), ID, 0);
    assert.deepEqual(issued.trustBundle, [newRoot]);
  });

  it('during the rotation, peers holding old-root and new-root leaves complete mutual TLS with the bundle; after finish they do not', async () => {
    const ca = await load(tmp());
    const before = await svid(ca, 'spiffe://mesh.test/ns/shop/sa/old');
    await ca.rotate('prepare');
    await ca.rotate('activate');
    const fresh = await svid(ca, 'spiffe://mesh.test/ns/shop/sa/new');
    const bundle = [...ca.trustBundle];
    const r = await handshake({ ...fresh, ca: bundle }, { ...before, ca: bundle });
    assert.deepEqual([r.serverSaw, r.clientSaw], ['URI:spiffe://mesh.test/ns/shop/sa/old', 'URI:spiffe://mesh.test/ns/shop/sa/new']);
    await handshake({ ...before, ca: bundle }, { ...fresh, ca: bundle });
    await ca.rotate('finish', { force: true });
    await assert.rejects(handshake({ ...fresh, ca: [...ca.trustBundle] }, { ...before, ca: [...ca.trustBundle] }));
  });

  it('finish is allowed without force once no leaf of the old root was signed (or all expired)', async () => {
    const ca = await load(tmp());
    await ca.rotate('prepare');
    await ca.rotate('activate');
    assert.equal(ca.status().previousRootLeavesValidUntil, null);
    assert.equal((await ca.rotate('finish')).phase, 'idle');
  });

  it('steps out of order are refused with the phase and what comes next; concurrent calls run one at a time', async () => {
    const ca = await load(tmp());
    await assert.rejects(ca.rotate('activate'), /cannot activate: the rotation is not started \(start with prepare\)/);
    await assert.rejects(ca.rotate('finish'), CaRotationError);
    const [a, b] = await Promise.allSettled([ca.rotate('prepare'), ca.rotate('prepare')]);
    assert.equal(a.status, 'fulfilled');
    assert.ok(b.status === 'rejected' && /cannot prepare: the rotation is prepared \(activate comes next\)/.test(String(b.reason)));
    await ca.rotate('activate');
    await assert.rejects(ca.rotate('prepare'), /the rotation is activated \(finish comes next\)/);
  });

  it('a restart resumes the same state at every phase', async () => {
    const dir = tmp();
    const ca = await load(dir);
    const oldRoot = ca.trustBundle[0]!;
    await ca.rotate('prepare');
    const prepared = await load(dir);
    assert.equal(prepared.phase, 'prepared');
    assert.deepEqual(prepared.trustBundle, ca.trustBundle);
    assert.equal(signer(ca.trustBundle, await leaf(prepared)), 0, 'after a restart the old root still signs');
    await prepared.rotate('activate');
    const activated = await load(dir);
    assert.equal(activated.phase, 'activated');
    assert.deepEqual(activated.trustBundle, [ca.trustBundle[1], oldRoot]);
    assert.equal(signer([oldRoot, ca.trustBundle[1]!], await leaf(activated)), 1, 'after a restart the new root signs');
    // This process signed no leaf with the old root: finish needs no force.
    await activated.rotate('finish');
    const done = await load(dir);
    assert.equal(done.phase, 'idle');
    assert.deepEqual(done.trustBundle, [ca.trustBundle[1]]);
  });

  it('interrupted steps are completed or undone at load', async () => {
    // prepare interrupted after the key: the orphan key is dropped.
    const d1 = tmp();
    await load(d1);
    writeFileSync(path.join(d1, 'next-root-key.pem'), 'half', { mode: 0o600 });
    const a = await load(d1);
    assert.equal(a.phase, 'idle');
    assert.ok(!existsSync(path.join(d1, 'next-root-key.pem')));

    // activate interrupted after the key moved: the certificate is moved too (activated).
    const d2 = tmp();
    const b = await load(d2);
    const oldRoot = b.trustBundle[0]!;
    await b.rotate('prepare');
    const newRoot = b.trustBundle[1]!;
    writeFileSync(path.join(d2, 'previous-root-cert.pem'), oldRoot);
    renameSync(path.join(d2, 'next-root-key.pem'), path.join(d2, 'root-key.pem'));
    const b2 = await load(d2);
    assert.equal(b2.phase, 'activated');
    assert.deepEqual(b2.trustBundle, [newRoot, oldRoot]);
    assert.equal(signer([oldRoot, newRoot], await leaf(b2)), 1);

    // activate interrupted before the key moved: still prepared, the stray copy is dropped.
    const d3 = tmp();
    const c = await load(d3);
    await c.rotate('prepare');
    writeFileSync(path.join(d3, 'previous-root-cert.pem'), c.trustBundle[0]!);
    const c2 = await load(d3);
    assert.equal(c2.phase, 'prepared');
    assert.ok(!existsSync(path.join(d3, 'previous-root-cert.pem')));
    assert.deepEqual(c2.trustBundle, c.trustBundle);
  });

  it('a next-root key others can read is refused at load; a user-provided CA is not rotatable', async () => {
    const d = tmp();
    const ca = await load(d);
    await ca.rotate('prepare');
    execFileSync('chmod', ['644', path.join(d, 'next-root-key.pem')]);
    await assert.rejects(load(d), /next-root-key\.pem: mode 644 lets others read the CA key/);

    const f = tmp();
    const file = (n: string) => path.join(f, n);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', file('root.key'), '-out', file('root.pem'), '-days', '30', '-subj', '/CN=Corp Root', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { stdio: 'pipe' });
    const user = await CertificateAuthority.load({ kind: 'files', certChainFile: file('root.pem'), keyFile: file('root.key'), rootFile: file('root.pem') });
    assert.equal(user.status().rotatable, false);
    assert.equal(user.status().bundleFile, null);
    await assert.rejects(user.rotate('prepare'), (e: Error) => e instanceof CaRotationError && /user-provided/.test(e.message));
  });
});
