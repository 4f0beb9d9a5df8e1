// The generated root CA on disk (--ca-dir): the signing root, and during a trust-bundle rotation the prepared next
// root or the previous one, plus trust-bundle.pem. Every step is a sequence of atomic renames that the next load
// completes or undoes, so a restart in the middle of a rotation resumes the same state.
//
//   root-cert.pem, root-key.pem (0600)              the signing root (always)
//   next-root-cert.pem, next-root-key.pem (0600)    phase "prepared": trusted, not signing yet
//   previous-root-cert.pem                          phase "activated": the old root, still trusted (its key is gone)
//   trust-bundle.pem                                every trusted root, signing root first (rewritten at each load and step)
import { chmod, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRoot, generateKeyPair, privateKeyPem } from '../../src/tls/x509.js';

export const ROOT_VALID_DAYS = 3650;

export type RotationPhase = 'idle' | 'prepared' | 'activated';

export interface RootPair {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface RootState {
  readonly phase: RotationPhase;
  readonly signing: RootPair;
  /** phase prepared: the root that `activate` makes the signing one. */
  readonly next: RootPair | null;
  /** phase activated: the root that signed before (certificate only). */
  readonly previousCertPem: string | null;
}

export class RootStoreError extends Error {}

const F = {
  cert: 'root-cert.pem',
  key: 'root-key.pem',
  nextCert: 'next-root-cert.pem',
  nextKey: 'next-root-key.pem',
  previousCert: 'previous-root-cert.pem',
  bundle: 'trust-bundle.pem',
} as const;

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** Writes `data` to a temporary file and renames it over `path` (readers see the old or the new file, never half). */
async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, data, { mode });
  await chmod(tmp, mode);
  await rename(tmp, path);
}

/** Owns the files of a generated root CA in one directory. */
export class RootStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  path(name: keyof typeof F): string {
    return join(this.dir, F[name]);
  }

  /** Reads the state, generating the first root on first start and finishing or undoing an interrupted step. */
  async load(trustDomain: string): Promise<RootState> {
    if (!(await exists(this.path('cert')))) {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const pair = await newRoot(trustDomain);
      // The key is written 0600 before the certificate: a crash in between leaves no half CA that looks whole.
      await writeFile(this.path('key'), pair.keyPem, { mode: 0o600, flag: 'wx' });
      await chmod(this.path('key'), 0o600);
      await writeFile(this.path('cert'), pair.certPem, { mode: 0o644, flag: 'wx' });
    }
    await this.#recover();
    const signing = await this.#readPair('cert', 'key');
    const hasNext = await exists(this.path('nextCert'));
    const next = hasNext ? await this.#readPair('nextCert', 'nextKey') : null;
    const previousCertPem = !hasNext && (await exists(this.path('previousCert'))) ? await readFile(this.path('previousCert'), 'utf8') : null;
    const phase: RotationPhase = next !== null ? 'prepared' : previousCertPem !== null ? 'activated' : 'idle';
    return { phase, signing, next, previousCertPem };
  }

  /**
   * prepare: a next-root key without its certificate is dropped (prepare did not finish); activate: a next-root
   * certificate whose key was already moved is moved too, and a previous-root copy written before the key moved is
   * dropped (the rotation is still "prepared").
   */
  async #recover(): Promise<void> {
    const nextCert = await exists(this.path('nextCert'));
    const nextKey = await exists(this.path('nextKey'));
    if (nextKey && !nextCert) await unlink(this.path('nextKey'));
    if (nextCert && !nextKey) await rename(this.path('nextCert'), this.path('cert'));
    if (nextCert && nextKey && (await exists(this.path('previousCert')))) await unlink(this.path('previousCert'));
  }

  async #readPair(cert: keyof typeof F, key: keyof typeof F): Promise<RootPair> {
    const keyFile = this.path(key);
    const mode = (await stat(keyFile)).mode & 0o777;
    if ((mode & 0o077) !== 0) throw new RootStoreError(`${keyFile}: mode ${mode.toString(8)} lets others read the CA key; chmod 600 it`);
    const [certPem, keyPem] = await Promise.all([readFile(this.path(cert), 'utf8'), readFile(keyFile, 'utf8')]);
    return { certPem, keyPem };
  }

  /** Generates the next root and writes it (key first, each file atomically). */
  async prepare(trustDomain: string): Promise<RootPair> {
    const pair = await newRoot(trustDomain);
    await writeAtomic(this.path('nextKey'), pair.keyPem, 0o600);
    await writeAtomic(this.path('nextCert'), pair.certPem, 0o644);
    return pair;
  }

  /** The next root becomes the signing one; the old certificate stays as previous-root-cert.pem, its key is replaced. */
  async activate(oldCertPem: string): Promise<void> {
    await writeAtomic(this.path('previousCert'), oldCertPem, 0o644);
    await rename(this.path('nextKey'), this.path('key'));
    await rename(this.path('nextCert'), this.path('cert'));
  }

  /** The previous root leaves the bundle. */
  async finish(): Promise<void> {
    await unlink(this.path('previousCert'));
  }

  async writeBundle(roots: readonly string[]): Promise<void> {
    await writeAtomic(this.path('bundle'), roots.join(''), 0o644);
  }
}

async function newRoot(trustDomain: string): Promise<RootPair> {
  const keys = await generateKeyPair();
  return { certPem: await createRoot(trustDomain, ROOT_VALID_DAYS, keys), keyPem: await privateKeyPem(keys.privateKey) };
}
