// The mesh CA against real tools: openssl verifies and prints what it issues, node:tls completes mutual
// handshakes with the SVIDs, and a user-provided intermediate made by openssl signs as well as the built-in root.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CaError, CertificateAuthority } from '../../../../control-plane/ca/ca.js';
import { certInfo, createCsr, generateKeyPair, privateKeyPem } from '../../../../src/tls/x509.js';
import { handshake, tempDirs } from './helpers.js';

const tmp = tempDirs('tessera-ca-');

function openssl(args: string[], input?: string): string {
  return execFileSync('openssl', args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

async function workload(ca: CertificateAuthority, id: string, ttl = 0): Promise<{ key: string; chain: string[]; bundle: string[] }> {
  const keys = await generateKeyPair();
  const csr = await createCsr(keys, id);
  const issued = await ca.sign(csr, id, ttl);
  return { key: await privateKeyPem(keys.privateKey), chain: [...issued.certChain], bundle: [...issued.trustBundle] };
}

describe('CertificateAuthority', () => {
  it('generates a root on first start (key 0600), reuses it after, and refuses a key others can read', async () => {
    const d = tmp();
    const a = await CertificateAuthority.load({ kind: 'self-signed', dir: d, trustDomain: 'mesh.test' });
    assert.equal(statSync(path.join(d, 'root-key.pem')).mode & 0o777, 0o600);
    const b = await CertificateAuthority.load({ kind: 'self-signed', dir: d, trustDomain: 'mesh.test' });
    assert.equal(a.trustBundle[0], b.trustBundle[0]);
    const text = openssl(['x509', '-noout', '-text'], a.trustBundle[0]);
    assert.match(text, /CA:TRUE/);
    assert.match(text, /Certificate Sign, CRL Sign/);
    assert.match(text, /URI:spiffe:\/\/mesh\.test/);
    chmodSync(path.join(d, 'root-key.pem'), 0o644);
    await assert.rejects(CertificateAuthority.load({ kind: 'self-signed', dir: d, trustDomain: 'mesh.test' }), /lets others read the CA key/);
  });

  it('issues X.509-SVIDs that openssl verifies: one critical URI SAN, not a CA, digitalSignature, 24 h by default', async () => {
    const ca = await CertificateAuthority.load({ kind: 'self-signed', dir: tmp(), trustDomain: 'mesh.test' });
    const id = 'spiffe://mesh.test/ns/shop/sa/catalog';
    const w = await workload(ca, id);
    assert.equal(w.chain.length, 1);
    const d = tmp();
    writeFileSync(path.join(d, 'root.pem'), w.bundle.join(''));
    writeFileSync(path.join(d, 'leaf.pem'), w.chain[0]!);
    assert.match(openssl(['verify', '-CAfile', path.join(d, 'root.pem'), '-purpose', 'sslclient', path.join(d, 'leaf.pem')]), /leaf\.pem: OK/);
    assert.match(openssl(['verify', '-CAfile', path.join(d, 'root.pem'), '-purpose', 'sslserver', path.join(d, 'leaf.pem')]), /leaf\.pem: OK/);
    const text = openssl(['x509', '-noout', '-text'], w.chain[0]);
    assert.match(text, /X509v3 Subject Alternative Name: critical\s+URI:spiffe:\/\/mesh\.test\/ns\/shop\/sa\/catalog\s/);
    assert.match(text, /CA:FALSE/);
    assert.match(text, /Digital Signature/);
    assert.doesNotMatch(text, /Certificate Sign/);
    assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
    const info = certInfo(w.chain[0]!);
    assert.deepEqual(info.uris, [id]);
    const life = info.notAfter - info.notBefore;
    assert.ok(life > 24 * 3600_000 - 5000 && life <= 24 * 3600_000 + 120_000, `lifetime ${life}`);
    assert.equal(ca.issuedCount, 1);
  });

  it('refuses a CSR for another identity, a tampered CSR, garbage, and lifetimes out of range', async () => {
    const ca = await CertificateAuthority.load({ kind: 'self-signed', dir: tmp(), trustDomain: 'mesh.test' });
    const keys = await generateKeyPair();
    const csr = await createCsr(keys, 'spiffe://mesh.test/ns/shop/sa/admin');
    await assert.rejects(ca.sign(csr, 'spiffe://mesh.test/ns/shop/sa/catalog', 0), (e: Error) => e instanceof CaError && /asks for spiffe:\/\/mesh\.test\/ns\/shop\/sa\/admin/.test(e.message));
    // Flip one byte of the signature (the DER's last bytes): possession of the key is no longer proven.
    const der = Buffer.from(csr.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
    der[der.length - 3] = der[der.length - 3]! ^ 0xff;
    const bad = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await assert.rejects(ca.sign(bad, 'spiffe://mesh.test/ns/shop/sa/admin', 0), CaError);
    await assert.rejects(ca.sign('not a csr', 'spiffe://mesh.test/ns/shop/sa/admin', 0), /CSR/);
    await assert.rejects(ca.sign(csr, 'spiffe://mesh.test/ns/shop/sa/admin', 10), /validity 10s/);
    await assert.rejects(ca.sign(csr, 'spiffe://mesh.test/ns/shop/sa/admin', 30 * 86400), /validity/);
    const short = await ca.sign(csr, 'spiffe://mesh.test/ns/shop/sa/admin', 3600);
    assert.ok(certInfo(short.certChain[0]!).notAfter - Date.now() <= 3600_000);
  });

  it('SVIDs from one CA complete a mutual TLS handshake; a peer from another CA is refused', async () => {
    const ca = await CertificateAuthority.load({ kind: 'self-signed', dir: tmp(), trustDomain: 'mesh.test' });
    const a = await workload(ca, 'spiffe://mesh.test/ns/shop/sa/frontend');
    const b = await workload(ca, 'spiffe://mesh.test/ns/shop/sa/catalog');
    const r = await handshake({ ...b, ca: b.bundle }, { ...a, ca: a.bundle });
    assert.equal(r.serverSaw, 'URI:spiffe://mesh.test/ns/shop/sa/frontend');
    assert.equal(r.clientSaw, 'URI:spiffe://mesh.test/ns/shop/sa/catalog');
    const other = await CertificateAuthority.load({ kind: 'self-signed', dir: tmp(), trustDomain: 'mesh.test' });
    const intruder = await workload(other, 'spiffe://mesh.test/ns/shop/sa/frontend');
    await assert.rejects(handshake({ ...b, ca: b.bundle }, { ...intruder, ca: b.bundle }));
  });

  it('signs with a user-provided intermediate made by openssl, sending the intermediate with each leaf', async () => {
    const d = tmp();
    const f = (n: string) => path.join(d, n);
    writeFileSync(f('ext.cnf'), '[ca]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('root.key'), '-out', f('root.pem'), '-days', '30', '-subj', '/O=corp/CN=Corp Root', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('int.key'), '-out', f('int.csr'), '-subj', '/O=corp/CN=Mesh Intermediate']);
    openssl(['x509', '-req', '-in', f('int.csr'), '-CA', f('root.pem'), '-CAkey', f('root.key'), '-CAcreateserial', '-out', f('int.pem'), '-days', '20', '-extfile', f('ext.cnf'), '-extensions', 'ca']);
    writeFileSync(f('chain.pem'), readFileSync(f('int.pem'), 'utf8') + readFileSync(f('root.pem'), 'utf8'));
    const ca = await CertificateAuthority.load({ kind: 'files', certChainFile: f('chain.pem'), keyFile: f('int.key'), rootFile: f('root.pem') });
    const w = await workload(ca, 'spiffe://corp/ns/a/sa/b');
    assert.equal(w.chain.length, 2, 'leaf + intermediate, root left out');
    writeFileSync(f('leaf.pem'), w.chain[0]!);
    writeFileSync(f('untrusted.pem'), w.chain[1]!);
    assert.match(openssl(['verify', '-CAfile', f('root.pem'), '-untrusted', f('untrusted.pem'), f('leaf.pem')]), /OK/);
    const peer = await workload(ca, 'spiffe://corp/ns/a/sa/c');
    const r = await handshake({ ...peer, ca: peer.bundle }, { ...w, ca: w.bundle });
    assert.equal(r.serverSaw, 'URI:spiffe://corp/ns/a/sa/b');
    // The wrong key for the certificate, and a leaf posing as a CA, are refused at load.
    await assert.rejects(CertificateAuthority.load({ kind: 'files', certChainFile: f('chain.pem'), keyFile: f('root.key'), rootFile: f('root.pem') }), /does not belong/);
    writeFileSync(f('leafkey.pem'), w.key);
    await assert.rejects(CertificateAuthority.load({ kind: 'files', certChainFile: f('leaf.pem'), keyFile: f('leafkey.pem'), rootFile: f('root.pem') }), /not a CA/);
  });
});
