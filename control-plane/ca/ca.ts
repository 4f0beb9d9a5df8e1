// The mesh CA: a root generated on first start and kept on disk (key 0600), or a user-provided signing
// certificate (root or intermediate) with its key and root bundle. It signs workload CSRs into SPIFFE X.509-SVIDs.
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { webcrypto } from 'node:crypto';
import { join } from 'node:path';
import {
  certInfo, createRoot, generateKeyPair, importKeyPair, isCaCertificate, issueSvid, parseAndVerifyCsr, parseCertificate, privateKeyPem,
  splitPemCertificates, type CaMaterial,
} from '../../src/tls/x509.js';

/** Default SVID lifetime (Istio's and SPIRE's order of magnitude). */
export const DEFAULT_SVID_TTL_S = 24 * 3600;
/** Shortest and longest lifetime a workload may ask for. */
export const MIN_SVID_TTL_S = 60;
export const MAX_SVID_TTL_S = 7 * 24 * 3600;
const ROOT_VALID_DAYS = 3650;

export type CaSource =
  /** Generated on first start in `dir` (root-cert.pem, root-key.pem), reused afterwards. */
  | { readonly kind: 'self-signed'; readonly dir: string; readonly trustDomain: string }
  /** A user's signing certificate (root or intermediate, PEM chain up to the root), its key and the root bundle. */
  | { readonly kind: 'files'; readonly certChainFile: string; readonly keyFile: string; readonly rootFile: string };

export interface IssuedSvid {
  /** Leaf first, then intermediates (PEM), not the root. */
  readonly certChain: readonly string[];
  /** Every root the workload should trust (PEM). */
  readonly trustBundle: readonly string[];
  readonly notAfter: number;
}

export class CaError extends Error {}

export class CertificateAuthority {
  readonly #material: CaMaterial;
  #roots: string[];
  #issued: number;

  private constructor(material: CaMaterial, roots: string[]) {
    this.#material = material;
    this.#roots = roots;
    this.#issued = 0;
  }

  static async load(src: CaSource): Promise<CertificateAuthority> {
    if (src.kind === 'self-signed') return CertificateAuthority.#selfSigned(src.dir, src.trustDomain);
    const [chainPem, keyPem, rootPem] = await Promise.all([
      readFile(src.certChainFile, 'utf8'), readFile(src.keyFile, 'utf8'), readFile(src.rootFile, 'utf8'),
    ]);
    const chain = splitPemCertificates(chainPem);
    const roots = splitPemCertificates(rootPem);
    if (chain.length === 0) throw new CaError(`${src.certChainFile}: no CERTIFICATE block`);
    if (roots.length === 0) throw new CaError(`${src.rootFile}: no CERTIFICATE block`);
    const keys = await importKeyPair(keyPem).catch((e: Error) => {
      throw new CaError(`${src.keyFile}: ${e.message}`);
    });
    const cert = parseCertificate(chain[0]!);
    await checkSigningCert(cert, keys, src.certChainFile);
    // Intermediates go to workloads with their leaf; a chain file that ends with the root itself drops it.
    const rootSet = new Set(roots.map((r) => certInfo(r).fingerprint256));
    const chainNoRoot = chain.filter((c) => !rootSet.has(certInfo(c).fingerprint256));
    return new CertificateAuthority({ cert, keys, chainPem: chainNoRoot }, roots);
  }

  static async #selfSigned(dir: string, trustDomain: string): Promise<CertificateAuthority> {
    const certFile = join(dir, 'root-cert.pem');
    const keyFile = join(dir, 'root-key.pem');
    let certPem: string;
    let keyPem: string;
    if (await exists(certFile)) {
      [certPem, keyPem] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
      const mode = (await stat(keyFile)).mode & 0o777;
      if ((mode & 0o077) !== 0) throw new CaError(`${keyFile}: mode ${mode.toString(8)} lets others read the CA key; chmod 600 it`);
    } else {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const keys = await generateKeyPair();
      keyPem = await privateKeyPem(keys.privateKey);
      certPem = await createRoot(trustDomain, ROOT_VALID_DAYS, keys);
      // The key is written 0600 before the certificate: a crash in between leaves no half CA that looks whole.
      await writeFile(keyFile, keyPem, { mode: 0o600, flag: 'wx' });
      await chmod(keyFile, 0o600);
      await writeFile(certFile, certPem, { mode: 0o644, flag: 'wx' });
    }
    const keys = await importKeyPair(keyPem);
    const cert = parseCertificate(certPem);
    await checkSigningCert(cert, keys, certFile);
    return new CertificateAuthority({ cert, keys, chainPem: [] }, [certPem]);
  }

  /** The roots workloads trust (PEM), the signing root first. */
  get trustBundle(): readonly string[] {
    return this.#roots;
  }

  get issuedCount(): number {
    return this.#issued;
  }

  /**
   * Trust-bundle rotation: workloads are told to trust `extraRootsPem` as well (old and new roots side by side),
   * or, with an empty list, only the signing root again.
   */
  setExtraRoots(extraRootsPem: readonly string[]): void {
    const own = this.#roots[0]!;
    this.#roots = [own, ...extraRootsPem.filter((r) => r !== own)];
  }

  /**
   * Signs a workload CSR for `spiffeId` (the identity the caller was authenticated as). The CSR must prove
   * possession of its key; a URI SAN it asks for must be that identity.
   */
  async sign(csrPem: string, spiffeId: string, ttlSeconds: number): Promise<IssuedSvid> {
    const ttl = ttlSeconds <= 0 ? DEFAULT_SVID_TTL_S : ttlSeconds;
    if (ttl < MIN_SVID_TTL_S || ttl > MAX_SVID_TTL_S) {
      throw new CaError(`validity ${ttl}s is outside [${MIN_SVID_TTL_S}, ${MAX_SVID_TTL_S}]`);
    }
    const csr = await parseAndVerifyCsr(csrPem).catch((e: Error) => {
      throw new CaError(e.message);
    });
    for (const u of csr.uris) if (u !== spiffeId) throw new CaError(`CSR asks for ${u}, the caller is ${spiffeId}`);
    const leaf = await issueSvid(this.#material, csr.publicKey, spiffeId, ttl);
    this.#issued++;
    return {
      certChain: [leaf, ...this.#material.chainPem],
      trustBundle: this.#roots,
      notAfter: certInfo(leaf).notAfter,
    };
  }
}

async function checkSigningCert(cert: ReturnType<typeof parseCertificate>, keys: Awaited<ReturnType<typeof importKeyPair>>, file: string): Promise<void> {
  if (!isCaCertificate(cert)) throw new CaError(`${file}: the signing certificate is not a CA (basicConstraints CA:TRUE missing)`);
  if (cert.notAfter.getTime() <= Date.now()) throw new CaError(`${file}: the signing certificate expired ${cert.notAfter.toISOString()}`);
  const spki = Buffer.from(cert.publicKey.rawData);
  const mine = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey));
  if (!spki.equals(mine)) throw new CaError(`${file}: the key does not belong to the signing certificate`);
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
