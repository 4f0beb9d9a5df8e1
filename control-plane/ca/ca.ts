// The mesh CA: a root generated on first start and kept on disk (key 0600), or a user-provided signing
// certificate (root or intermediate) with its key and root bundle. It signs workload CSRs into SPIFFE X.509-SVIDs,
// and rotates a generated root in three steps (prepare, activate, finish) that change the trust bundle.
import { readFile } from 'node:fs/promises';
import { webcrypto } from 'node:crypto';
import {
  certInfo, importKeyPair, isCaCertificate, issueSvid, parseAndVerifyCsr, parseCertificate,
  splitPemCertificates, type CaMaterial,
} from '../../src/tls/x509.js';
import { RootStore, RootStoreError, type RootPair, type RotationPhase } from './root-store.js';

export type { RotationPhase } from './root-store.js';

/** Default SVID lifetime (Istio's and SPIRE's order of magnitude). */
export const DEFAULT_SVID_TTL_S = 24 * 3600;
/** Shortest and longest lifetime a workload may ask for. */
export const MIN_SVID_TTL_S = 60;
export const MAX_SVID_TTL_S = 7 * 24 * 3600;

export type CaSource =
  /** Generated on first start in `dir` (root-cert.pem, root-key.pem), reused afterwards; rotatable. */
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
/** A rotation step asked for in the wrong phase, or refused for safety: the caller may retry later (HTTP 409). */
export class CaRotationError extends CaError {}

export type RotationStep = 'prepare' | 'activate' | 'finish';
export const ROTATION_STEPS: readonly RotationStep[] = ['prepare', 'activate', 'finish'];

export interface RootSummary {
  readonly fingerprint256: string;
  readonly notAfter: string;
  readonly signing: boolean;
}

export interface RotationStatus {
  /** false for a user-provided CA (--ca-cert): rotate it with your own PKI. */
  readonly rotatable: boolean;
  readonly phase: RotationPhase;
  /** The trust bundle, signing root first. */
  readonly roots: readonly RootSummary[];
  /** phase activated: the last moment a leaf this process signed with the previous root is valid (ISO), else null. */
  readonly previousRootLeavesValidUntil: string | null;
  /** trust-bundle.pem (the bundle to give sidecars as their --xds-ca), null for a user-provided CA. */
  readonly bundleFile: string | null;
}

function fingerprint(m: CaMaterial): string {
  return certInfo(m.cert.toString('pem')).fingerprint256;
}

async function material(pair: RootPair, file: string): Promise<CaMaterial> {
  const keys = await importKeyPair(pair.keyPem);
  const cert = parseCertificate(pair.certPem);
  await checkSigningCert(cert, keys, file);
  return { cert, keys, chainPem: [] };
}

/** Owns the signing material, the trust bundle and (generated root) the rotation state; one step at a time. */
export class CertificateAuthority {
  #material: CaMaterial;
  /** SHA-256 fingerprint of the signing certificate, the key of #leavesUntil. */
  #signingFp: string;
  /** Rotation roots after the signing root: the next (prepared) or the previous (activated) one. */
  #rotationRoots: string[];
  #extraRoots: string[] = [];
  #roots: string[] = [];
  #issued = 0;
  #phase: RotationPhase;
  readonly #store: RootStore | null;
  readonly #trustDomain: string | null;
  #next: RootPair | null;
  /** Latest notAfter of the leaves signed by each root (fingerprint), in this process. */
  readonly #leavesUntil = new Map<string, number>();
  #previousLeavesUntil: number | null = null;
  #busy: Promise<unknown> = Promise.resolve();
  readonly #listeners = new Set<() => void>();

  private constructor(
    m: CaMaterial,
    roots: string[],
    opts: { store: RootStore | null; trustDomain: string | null; phase: RotationPhase; next: RootPair | null; rotationRoots: string[] },
  ) {
    this.#material = m;
    this.#signingFp = fingerprint(m);
    this.#store = opts.store;
    this.#trustDomain = opts.trustDomain;
    this.#phase = opts.phase;
    this.#next = opts.next;
    this.#rotationRoots = opts.rotationRoots;
    this.#setRoots(roots[0]!, roots.slice(1));
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
    return new CertificateAuthority({ cert, keys, chainPem: chainNoRoot }, roots, { store: null, trustDomain: null, phase: 'idle', next: null, rotationRoots: [] });
  }

  static async #selfSigned(dir: string, trustDomain: string): Promise<CertificateAuthority> {
    const store = new RootStore(dir);
    const state = await store.load(trustDomain).catch((e: Error) => {
      throw e instanceof RootStoreError ? new CaError(e.message) : e;
    });
    const m = await material(state.signing, store.path('cert'));
    if (state.next !== null) await material(state.next, store.path('nextCert'));
    const rotationRoots = state.next !== null ? [state.next.certPem] : state.previousCertPem !== null ? [state.previousCertPem] : [];
    const ca = new CertificateAuthority(m, [state.signing.certPem], { store, trustDomain, phase: state.phase, next: state.next, rotationRoots });
    await store.writeBundle(ca.trustBundle);
    return ca;
  }

  /** The roots workloads trust (PEM), the signing root first. */
  get trustBundle(): readonly string[] {
    return this.#roots;
  }

  get issuedCount(): number {
    return this.#issued;
  }

  get phase(): RotationPhase {
    return this.#phase;
  }

  /** Calls `listener` after every change of the trust bundle (each rotation step). Returns a remover. */
  onBundleChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /**
   * Workloads are told to trust `extraRootsPem` as well (a user-provided CA changing roots), or, with an empty list,
   * no more than the signing root and the rotation's roots again.
   */
  setExtraRoots(extraRootsPem: readonly string[]): void {
    this.#setRoots(this.#roots[0]!, extraRootsPem);
  }

  #setRoots(own: string, extra: readonly string[]): void {
    this.#extraRoots = extra.filter((r) => r !== own);
    const all = [own, ...this.#rotationRoots, ...this.#extraRoots];
    this.#roots = all.filter((r, i) => all.indexOf(r) === i);
  }

  status(): RotationStatus {
    const signing = this.#roots[0]!;
    return {
      rotatable: this.#store !== null,
      phase: this.#phase,
      roots: this.#roots.map((pem) => {
        const info = certInfo(pem);
        return { fingerprint256: info.fingerprint256, notAfter: new Date(info.notAfter).toISOString(), signing: pem === signing };
      }),
      previousRootLeavesValidUntil: this.#previousLeavesUntil === null ? null : new Date(this.#previousLeavesUntil).toISOString(),
      bundleFile: this.#store?.path('bundle') ?? null,
    };
  }

  /**
   * One rotation step (one at a time): `prepare` generates a new root and trusts it beside the signing one;
   * `activate` signs new leaves with it (the old root stays trusted); `finish` drops the old root, refused while a
   * leaf this process signed with it is still valid unless `force`. Listeners hear of every bundle change.
   */
  rotate(step: RotationStep, opts: { force?: boolean } = {}): Promise<RotationStatus> {
    const run = this.#busy.then(() => this.#rotate(step, opts.force === true));
    this.#busy = run.catch(() => undefined);
    return run;
  }

  async #rotate(step: RotationStep, force: boolean): Promise<RotationStatus> {
    const store = this.#store;
    if (store === null || this.#trustDomain === null) {
      throw new CaRotationError('this CA is user-provided (--ca-cert): rotate its root with your PKI and restart with the new --ca-root bundle');
    }
    const want: RotationPhase = step === 'prepare' ? 'idle' : step === 'activate' ? 'prepared' : 'activated';
    if (this.#phase !== want) {
      const hint: Record<RotationPhase, string> = { idle: 'start with prepare', prepared: 'activate comes next', activated: 'finish comes next' };
      throw new CaRotationError(`cannot ${step}: the rotation is ${this.#phase === 'idle' ? 'not started' : this.#phase} (${hint[this.#phase]})`);
    }
    const own = this.#roots[0]!;
    if (step === 'prepare') {
      const next = await store.prepare(this.#trustDomain);
      await material(next, store.path('nextCert'));
      this.#next = next;
      this.#rotationRoots = [next.certPem];
      this.#phase = 'prepared';
      this.#setRoots(own, this.#extraRoots);
    } else if (step === 'activate') {
      const next = this.#next!;
      const m = await material(next, store.path('nextCert'));
      await store.activate(own);
      this.#previousLeavesUntil = this.#leavesUntil.get(this.#signingFp) ?? null;
      this.#material = m;
      this.#signingFp = fingerprint(m);
      this.#next = null;
      this.#rotationRoots = [own];
      this.#phase = 'activated';
      this.#setRoots(next.certPem, this.#extraRoots);
    } else {
      const until = this.#previousLeavesUntil;
      if (!force && until !== null && until > Date.now()) {
        throw new CaRotationError(
          `leaves signed by the previous root are valid until ${new Date(until).toISOString()}: sidecars still holding one would fail their mTLS handshakes; finish after that, or force it`,
        );
      }
      await store.finish();
      this.#previousLeavesUntil = null;
      this.#rotationRoots = [];
      this.#phase = 'idle';
      this.#setRoots(own, this.#extraRoots);
    }
    await store.writeBundle(this.#roots);
    for (const l of [...this.#listeners]) l();
    return this.status();
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
    const m = this.#material;
    const leaf = await issueSvid(m, csr.publicKey, spiffeId, ttl);
    this.#issued++;
    const notAfter = certInfo(leaf).notAfter;
    const fp = m === this.#material ? this.#signingFp : fingerprint(m);
    this.#leavesUntil.set(fp, Math.max(this.#leavesUntil.get(fp) ?? 0, notAfter));
    // Signed with the old root while `activate` ran: finish must wait for this leaf too.
    if (fp !== this.#signingFp && this.#phase === 'activated') this.#previousLeavesUntil = Math.max(this.#previousLeavesUntil ?? 0, notAfter);
    return {
      certChain: [leaf, ...m.chainPem],
      trustBundle: this.#roots,
      notAfter,
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
