// X.509 for the mesh CA and its workloads, on @peculiar/x509 over node's WebCrypto: key pairs, CSRs, a root,
// SPIFFE X.509-SVIDs (https://github.com/spiffe/spiffe/blob/main/standards/X509-SVID.md). Inspection of
// certificates (expiry, SANs) uses node's own crypto.X509Certificate.
import { X509Certificate as NodeX509, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
// @peculiar/x509 resolves its ASN.1 schemas through tsyringe, which needs the Reflect metadata API first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { uriSans } from './spiffe.js';

x509.cryptoProvider.set(webcrypto as never);

type CryptoKey = webcrypto.CryptoKey;

/** ECDSA P-256 with SHA-256 for every key and signature the mesh makes (fast to sign and verify). */
export const EC_ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface KeyPair {
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
}

export async function generateKeyPair(): Promise<KeyPair> {
  return (await webcrypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify'])) as unknown as KeyPair;
}

export async function privateKeyPem(k: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', k));
  return toPem('PRIVATE KEY', der);
}

/** Imports a PKCS#8 or SEC1 ("EC PRIVATE KEY") P-256 key with its public half. */
export async function importKeyPair(pem: string): Promise<KeyPair> {
  const ko = createPrivateKey(pem);
  if (ko.asymmetricKeyType !== 'ec' || ko.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('CA key must be an EC P-256 key');
  }
  const pkcs8 = ko.export({ format: 'der', type: 'pkcs8' });
  const privateKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, EC_ALG, true, ['sign']);
  const jwk = ko.export({ format: 'jwk' });
  delete jwk.d;
  const publicKey = await webcrypto.subtle.importKey('jwk', jwk, EC_ALG, true, ['verify']);
  return { privateKey, publicKey };
}

export function toPem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** Splits a PEM bundle into its CERTIFICATE blocks (each with a trailing newline). */
export function splitPemCertificates(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((b) => `${b}\n`) ?? [];
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // positive
  return b.toString('hex');
}

/** A CSR for a workload: empty subject, the requested SPIFFE ID as its one URI SAN (none: the CA decides). */
export async function createCsr(keys: KeyPair, spiffeId: string | null): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: '',
    keys: keys as never,
    signingAlgorithm: EC_ALG,
    extensions: spiffeId === null ? [] : [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }])],
  });
  return withNewline(csr.toString('pem'));
}

export interface ParsedCsr {
  readonly publicKey: x509.PublicKey;
  /** URI SANs the CSR asks for. */
  readonly uris: readonly string[];
}

/** Parses a PEM CSR and checks its self-signature (proof the requester holds the private key). */
export async function parseAndVerifyCsr(pem: string): Promise<ParsedCsr> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(pem);
  } catch (e) {
    throw new Error(`CSR is not a PEM PKCS#10 request: ${(e as Error).message}`);
  }
  if (!(await csr.verify())) throw new Error('CSR signature does not verify');
  const uris: string[] = [];
  const san = csr.getExtension('2.5.29.17') as x509.SubjectAlternativeNameExtension | null;
  if (san !== null) for (const n of san.names.items) if (n.type === 'url') uris.push(n.value);
  return { publicKey: csr.publicKey, uris };
}

export interface CaMaterial {
  readonly cert: x509.X509Certificate;
  readonly keys: KeyPair;
  /** PEM of the signing certificate and any intermediates up to (not including) the root. */
  readonly chainPem: readonly string[];
}

/** A self-signed root for `trustDomain`: CA, keyCertSign/cRLSign, its SPIFFE trust-domain ID as URI SAN. */
export async function createRoot(trustDomain: string, validDays: number, keys: KeyPair): Promise<string> {
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `O=${trustDomain}, CN=Tessera Root CA`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + validDays * 86_400_000),
    signingAlgorithm: EC_ALG,
    keys: keys as never,
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://${trustDomain}` }]),
    ],
  });
  return withNewline(cert.toString('pem'));
}

/**
 * An X.509-SVID: empty subject with one critical URI SAN, not a CA, digitalSignature only, server+client auth,
 * key identifiers, valid from a minute ago (clock skew) for `ttlSeconds`, never past the issuer's own expiry.
 */
export async function issueSvid(ca: CaMaterial, publicKey: x509.PublicKey, spiffeId: string, ttlSeconds: number): Promise<string> {
  const now = Date.now();
  const notAfter = Math.min(now + ttlSeconds * 1000, ca.cert.notAfter.getTime());
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: '',
    issuer: ca.cert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(notAfter),
    signingAlgorithm: EC_ALG,
    publicKey,
    signingKey: ca.keys.privateKey as never,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], false),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }], true),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  return withNewline(cert.toString('pem'));
}

/** PEM blocks always end with a newline, so chains and bundles can be joined with ''. */
function withNewline(pem: string): string {
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

/** basicConstraints CA:TRUE is present (the certificate may sign others). */
export function isCaCertificate(cert: x509.X509Certificate): boolean {
  return cert.getExtension(x509.BasicConstraintsExtension)?.ca === true;
}

export function parseCertificate(pem: string): x509.X509Certificate {
  return new x509.X509Certificate(pem);
}

/** What a workload needs to know of a certificate: validity and its URI SANs (node's parser, no WebCrypto). */
export interface CertInfo {
  readonly notBefore: number;
  readonly notAfter: number;
  readonly uris: readonly string[];
  readonly fingerprint256: string;
  readonly serialNumber: string;
}

export function certInfo(pem: string): CertInfo {
  const c = new NodeX509(pem);
  return {
    notBefore: Date.parse(c.validFrom),
    notAfter: Date.parse(c.validTo),
    uris: uriSans(c.subjectAltName),
    fingerprint256: c.fingerprint256,
    serialNumber: c.serialNumber,
  };
}
